// gen-heap-profiles.go - writes real Go heap profiles for the ingest
// benchmark: the same mixed workload as gen-cpu-profiles.go (type-checking Go
// source with go/types, JSON, templates, regexp, gzip, big numbers, sorting)
// sampled densely (runtime.MemProfileRate = 8 KiB instead of 512 KiB), some
// results kept alive so in-use values are not empty. A snapshot is written each time
// the number of distinct allocation stacks (the profile's samples) passes
// TARGET, TARGET+STEP, ...: consecutive files overlap the way one service's
// heap profiles do. Each file is a genuine runtime/pprof heap profile with
// four sample types (alloc_objects, alloc_space, inuse_objects, inuse_space).
//
//	GO111MODULE=off go run gen-heap-profiles.go OUTDIR [COUNT] [TARGET] [STEP]
//
// The workload repeats gen-cpu-profiles.go's so each generator stays one
// self-contained `go run` file.
package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"math/big"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"text/template"
)

var pkgs = []string{"bufio", "bytes", "strings", "strconv", "encoding/json", "text/template",
	"net/url", "regexp/syntax", "compress/flate", "sort", "container/heap", "path", "errors",
	"unicode/utf8", "encoding/base64", "encoding/csv", "html", "mime", "image/color", "hash/crc32",
	"net/http", "go/printer", "archive/tar", "database/sql", "encoding/xml", "flag", "math/big"}

// live keeps the last results of each kind reachable: the in-use columns of
// a real service's heap profile are not empty.
var live [16]interface{}

func keep(i int, v interface{}) { live[i%len(live)] = v }

func typeCheck(n int, dir string) {
	fset := token.NewFileSet()
	files, _ := filepath.Glob(filepath.Join(runtime.GOROOT(), "src", dir, "*.go"))
	var parsed []*ast.File
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.ParseComments)
		if err == nil {
			parsed = append(parsed, af)
		}
	}
	conf := types.Config{Importer: importer.ForCompiler(fset, "source", nil), Error: func(error) {}}
	info := &types.Info{Types: map[ast.Expr]types.TypeAndValue{}, Defs: map[*ast.Ident]types.Object{},
		Uses: map[*ast.Ident]types.Object{}}
	pkg, _ := conf.Check(dir, fset, parsed, info)
	keep(n, pkg)
}

type rec struct {
	Name  string            `json:"name"`
	Tags  map[string]string `json:"tags"`
	Vals  []float64         `json:"vals"`
	Child *rec              `json:"child,omitempty"`
}

func jsonWork(n int, r *rand.Rand) {
	var rs []rec
	for i := 0; i < 300; i++ {
		x := rec{Name: "svc-" + strconv.Itoa(r.Intn(1000)), Tags: map[string]string{"a": "b", "pod": fmt.Sprint(i)}}
		for j := 0; j < 20; j++ {
			x.Vals = append(x.Vals, r.Float64())
		}
		x.Child = &rec{Name: "c"}
		rs = append(rs, x)
	}
	b, _ := json.Marshal(rs)
	var back []rec
	json.Unmarshal(b, &back)
	keep(n, back)
}

var re = regexp.MustCompile(`(?i)([a-z]+)-(\d+)\.(?:prod|dev)\.example\.(com|org)`)

func regexWork(n int, r *rand.Rand) {
	var sb strings.Builder
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(&sb, "host%d-%d.prod.example.com other text %x ", r.Intn(100), i, r.Int63())
	}
	keep(n, re.FindAllStringSubmatch(sb.String(), -1))
}

func gzipWork(n int, r *rand.Rand) {
	buf := make([]byte, 64<<10)
	for i := range buf {
		buf[i] = byte('a' + r.Intn(8))
	}
	var out bytes.Buffer
	w, _ := gzip.NewWriterLevel(&out, 1+r.Intn(9))
	w.Write(buf)
	w.Close()
	rd, _ := gzip.NewReader(&out)
	var back bytes.Buffer
	back.ReadFrom(rd)
	keep(n, back.Bytes())
}

var tmpl = template.Must(template.New("t").Parse(
	`{{range .}}<li class="{{.Name}}">{{.Name}}: {{range $k, $v := .Tags}}{{$k}}={{$v}} {{end}}</li>{{end}}`))

func templateWork(n int, r *rand.Rand) {
	var rs []rec
	for i := 0; i < 500; i++ {
		rs = append(rs, rec{Name: "n" + strconv.Itoa(r.Intn(99)), Tags: map[string]string{"x": "y", "z": "w"}})
	}
	var out bytes.Buffer
	tmpl.Execute(&out, rs)
	keep(n, out.String())
}

func bigWork(n int) {
	a, b := big.NewInt(1), big.NewInt(1)
	for i := 0; i < 3000; i++ {
		a.Add(a, b)
		a, b = b, a
	}
	keep(n, new(big.Int).Exp(a, big.NewInt(65537), b))
}

func sortWork(n int, r *rand.Rand) {
	s := make([]string, 5000)
	for i := range s {
		s[i] = strconv.FormatInt(r.Int63(), 36)
	}
	sort.Strings(s)
	h := sha256.New()
	for _, x := range s {
		h.Write([]byte(x))
	}
	keep(n, h.Sum(nil))
}

// stacks is the number of distinct allocation stacks recorded so far: the
// number of samples the next heap profile will have.
func stacks() int {
	n, _ := runtime.MemProfile(nil, true)
	return n
}

// memRate samples one allocation per memRate bytes on average (Go's default
// is 512 KiB): dense enough for ~10k distinct stacks within seconds, sparse
// enough that one snapshot does not jump far past TARGET.
const memRate = 8192

func main() {
	runtime.MemProfileRate = memRate
	out := os.Args[1]
	count, target, step := 2, 10000, 300
	if len(os.Args) > 2 {
		count, _ = strconv.Atoi(os.Args[2])
	}
	if len(os.Args) > 3 {
		target, _ = strconv.Atoi(os.Args[3])
	}
	if len(os.Args) > 4 {
		step, _ = strconv.Atoi(os.Args[4])
	}
	runtime.GOMAXPROCS(1)
	os.MkdirAll(out, 0o755)
	r := rand.New(rand.NewSource(1))
	for n, i := 0, 0; n < count; i++ {
		switch r.Intn(7) {
		case 0, 1:
			typeCheck(i, pkgs[r.Intn(len(pkgs))])
		case 2:
			jsonWork(i, r)
			templateWork(i+1, r)
		case 3:
			regexWork(i, r)
		case 4:
			gzipWork(i, r)
		case 5:
			bigWork(i)
		default:
			sortWork(i, r)
		}
		if stacks() < target+n*step {
			continue
		}
		runtime.GC() // in-use figures as of the last GC, as a real snapshot
		f, _ := os.Create(filepath.Join(out, fmt.Sprintf("go-heap-%02d.pb.gz", n)))
		pprof.Lookup("heap").WriteTo(f, 0)
		f.Close()
		n++
	}
}
