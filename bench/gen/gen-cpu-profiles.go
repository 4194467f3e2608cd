// gen-cpu-profiles.go - writes real Go CPU profiles for bench_head: a mixed
// workload (type-checking Go source with go/types, regexp, JSON, gzip, text
// templates, big-number arithmetic, sorting, hashing) profiled in windows of
// a few seconds each, so every file is a genuine runtime/pprof CPU profile
// with a realistic number of locations (~1-2k) and samples (~400-700), and
// consecutive files overlap the way one service's profiles do.
//
//	GO111MODULE=off go run gen-cpu-profiles.go OUTDIR [COUNT] [SECONDS]
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
	"time"
)

var pkgs = []string{"bufio", "bytes", "strings", "strconv", "encoding/json", "text/template",
	"net/url", "regexp/syntax", "compress/flate", "sort", "container/heap", "path", "errors",
	"unicode/utf8", "encoding/base64", "encoding/csv", "html", "mime", "image/color", "hash/crc32"}

func typeCheck(dir string) {
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
	conf.Check(dir, fset, parsed, info)
}

type rec struct {
	Name  string            `json:"name"`
	Tags  map[string]string `json:"tags"`
	Vals  []float64         `json:"vals"`
	Child *rec              `json:"child,omitempty"`
}

func jsonWork(r *rand.Rand) {
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
}

var re = regexp.MustCompile(`(?i)([a-z]+)-(\d+)\.(?:prod|dev)\.example\.(com|org)`)

func regexWork(r *rand.Rand) {
	var sb strings.Builder
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(&sb, "host%d-%d.prod.example.com other text %x ", r.Intn(100), i, r.Int63())
	}
	re.FindAllStringSubmatch(sb.String(), -1)
}

func gzipWork(r *rand.Rand) {
	buf := make([]byte, 256<<10)
	for i := range buf {
		buf[i] = byte('a' + r.Intn(8))
	}
	var out bytes.Buffer
	w, _ := gzip.NewWriterLevel(&out, 6)
	w.Write(buf)
	w.Close()
	rd, _ := gzip.NewReader(&out)
	var back bytes.Buffer
	back.ReadFrom(rd)
}

var tmpl = template.Must(template.New("t").Parse(
	`{{range .}}<li class="{{.Name}}">{{.Name}}: {{range $k, $v := .Tags}}{{$k}}={{$v}} {{end}}</li>{{end}}`))

func templateWork(r *rand.Rand) {
	var rs []rec
	for i := 0; i < 500; i++ {
		rs = append(rs, rec{Name: "n" + strconv.Itoa(r.Intn(99)), Tags: map[string]string{"x": "y", "z": "w"}})
	}
	var out bytes.Buffer
	tmpl.Execute(&out, rs)
}

func bigWork() {
	a, b := big.NewInt(1), big.NewInt(1)
	for i := 0; i < 3000; i++ {
		a.Add(a, b)
		a, b = b, a
	}
	new(big.Int).Exp(a, big.NewInt(65537), b)
}

func sortWork(r *rand.Rand) {
	s := make([]string, 20000)
	for i := range s {
		s[i] = strconv.FormatInt(r.Int63(), 36)
	}
	sort.Strings(s)
	h := sha256.New()
	for _, x := range s {
		h.Write([]byte(x))
	}
	h.Sum(nil)
}

func main() {
	out := os.Args[1]
	count, secs := 20, 6
	if len(os.Args) > 2 {
		count, _ = strconv.Atoi(os.Args[2])
	}
	if len(os.Args) > 3 {
		secs, _ = strconv.Atoi(os.Args[3])
	}
	runtime.GOMAXPROCS(1)
	os.MkdirAll(out, 0o755)
	r := rand.New(rand.NewSource(1))
	for n := 0; n < count; n++ {
		f, _ := os.Create(filepath.Join(out, fmt.Sprintf("go-cpu-%02d.pb.gz", n)))
		pprof.StartCPUProfile(f)
		end := time.Now().Add(time.Duration(secs) * time.Second)
		for i := 0; time.Now().Before(end); i++ {
			switch r.Intn(7) {
			case 0, 1:
				typeCheck(pkgs[r.Intn(len(pkgs))])
			case 2:
				jsonWork(r)
				templateWork(r)
			case 3:
				regexWork(r)
			case 4:
				gzipWork(r)
			case 5:
				bigWork()
			default:
				sortWork(r)
			}
		}
		pprof.StopCPUProfile()
		f.Close()
	}
}
