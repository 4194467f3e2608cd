// helmlite renders a Helm chart offline, for tests: Go's text/template with
// sprig v3 (the function library Helm itself uses) plus Helm's own template
// functions (include, tpl, required, toYaml, fromYaml, toJson, fromJson,
// lookup), the built-in objects (.Values, .Release, .Chart, .Capabilities,
// .Template) and Helm's value merging (chart values.yaml, then every -f
// file in order, maps merged deeply). It also converts YAML documents to
// JSON (-json), so a test can read manifests without a YAML parser.
//
// It exists because Helm is not packaged in Debian and cannot be fetched
// here (docs/kubernetes.md). Built in GOPATH mode from Debian's
// golang-github-masterminds-sprig-dev and golang-gopkg-yaml.v3-dev.
//
// It is stricter than Helm on purpose: a template that reads a value which
// does not exist fails (Helm renders it empty), so a misspelled value name
// is an error. Not supported: .Files, subcharts, hooks, schema files;
// lookup always finds nothing (as in `helm template`).
//
//	helmlite [-f values.yaml]... [-name release] [-namespace ns] [-notes] CHART
//	helmlite -json [FILE]...      (stdin when no file)
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	"gopkg.in/yaml.v3"
)

type fileList []string

func (f *fileList) String() string     { return strings.Join(*f, ",") }
func (f *fileList) Set(v string) error { *f = append(*f, v); return nil }

func die(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "helmlite: "+format+"\n", a...)
	os.Exit(1)
}

// readYAML parses one YAML document into plain maps and slices.
func readYAML(file string) map[string]interface{} {
	data, err := os.ReadFile(file)
	if err != nil {
		die("%v", err)
	}
	out := map[string]interface{}{}
	if err := yaml.Unmarshal(data, &out); err != nil {
		die("%s: %v", file, err)
	}
	return out
}

// merge overlays src onto dst as Helm coalesces values: maps merge key by
// key, anything else (lists included) replaces.
func merge(dst, src map[string]interface{}) map[string]interface{} {
	for k, v := range src {
		sm, sok := v.(map[string]interface{})
		dm, dok := dst[k].(map[string]interface{})
		if sok && dok {
			dst[k] = merge(dm, sm)
		} else {
			dst[k] = v
		}
	}
	return dst
}

// toYAML is Helm's toYaml: block style, two-space indent, no trailing newline.
func toYAML(v interface{}) string {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return ""
	}
	enc.Close()
	return strings.TrimSuffix(b.String(), "\n")
}

func fromYAML(s string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

func toJSON(v interface{}) string {
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

func fromJSON(s string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

func required(msg string, v interface{}) (interface{}, error) {
	if v == nil {
		return v, errors.New(msg)
	}
	if s, ok := v.(string); ok && s == "" {
		return v, errors.New(msg)
	}
	return v, nil
}

// render parses every file of templates/ into one template set, as Helm
// does, and executes the ones that are not partials (_*) or NOTES.txt.
func render(chartDir string, values map[string]interface{}, release map[string]interface{}, notes bool) (string, error) {
	chart := readYAML(filepath.Join(chartDir, "Chart.yaml"))
	name, _ := chart["name"].(string)
	if name == "" {
		return "", errors.New("Chart.yaml has no name")
	}
	// Helm exposes Chart.yaml's fields capitalised (.Chart.AppVersion).
	chartObj := map[string]interface{}{}
	for k, v := range chart {
		chartObj[strings.ToUpper(k[:1])+k[1:]] = v
	}
	dir := filepath.Join(chartDir, "templates")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	root := template.New("root").Option("missingkey=error")
	funcs := sprig.TxtFuncMap()
	// Helm removes these: a chart must not read the renderer's environment.
	delete(funcs, "env")
	delete(funcs, "expandenv")
	var names []string
	funcs["include"] = func(n string, data interface{}) (string, error) {
		var b strings.Builder
		err := root.ExecuteTemplate(&b, n, data)
		return b.String(), err
	}
	ntpl := 0
	funcs["tpl"] = func(text string, data interface{}) (string, error) {
		// A template of the same set, so the text can include the chart's
		// named templates.
		ntpl++
		t, err := root.New(fmt.Sprintf("tpl-%d", ntpl)).Parse(text)
		if err != nil {
			return "", err
		}
		var b strings.Builder
		err = t.Execute(&b, data)
		return b.String(), err
	}
	funcs["required"] = required
	funcs["toYaml"] = toYAML
	funcs["fromYaml"] = fromYAML
	funcs["toJson"] = toJSON
	funcs["fromJson"] = fromJSON
	funcs["lookup"] = func(string, string, string, string) map[string]interface{} {
		return map[string]interface{}{}
	}
	root.Funcs(funcs)
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return "", err
		}
		tname := path.Join(name, "templates", e.Name())
		if _, err := root.New(tname).Parse(string(data)); err != nil {
			return "", err
		}
		names = append(names, tname)
	}
	sort.Strings(names)
	caps := map[string]interface{}{
		"KubeVersion": map[string]interface{}{"Version": "v1.32.0", "Major": "1", "Minor": "32"},
	}
	var out strings.Builder
	for _, tname := range names {
		base := path.Base(tname)
		isNotes := base == "NOTES.txt"
		if strings.HasPrefix(base, "_") || isNotes != notes {
			continue
		}
		if !isNotes && !strings.HasSuffix(base, ".yaml") && !strings.HasSuffix(base, ".yml") && !strings.HasSuffix(base, ".tpl") {
			continue
		}
		top := map[string]interface{}{
			"Values":       values,
			"Release":      release,
			"Chart":        chartObj,
			"Capabilities": caps,
			"Template":     map[string]interface{}{"Name": tname, "BasePath": path.Join(name, "templates")},
		}
		var b strings.Builder
		if err := root.ExecuteTemplate(&b, tname, top); err != nil {
			return "", err
		}
		text := strings.TrimSpace(b.String())
		if text == "" {
			continue
		}
		if notes {
			out.WriteString(text + "\n")
		} else {
			fmt.Fprintf(&out, "---\n# Source: %s\n%s\n", tname, text)
		}
	}
	return out.String(), nil
}

// toJSONDocs prints every non-empty YAML document of the inputs as one
// JSON array.
func toJSONDocs(files []string) error {
	var docs []interface{}
	read := func(r io.Reader, name string) error {
		dec := yaml.NewDecoder(r)
		for {
			var v interface{}
			err := dec.Decode(&v)
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("%s: %v", name, err)
			}
			if v != nil {
				docs = append(docs, v)
			}
		}
	}
	if len(files) == 0 {
		if err := read(os.Stdin, "stdin"); err != nil {
			return err
		}
	}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return err
		}
		err = read(fh, f)
		fh.Close()
		if err != nil {
			return err
		}
	}
	if docs == nil {
		docs = []interface{}{}
	}
	b, err := json.Marshal(docs)
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(append(b, '\n'))
	return err
}

func main() {
	var valueFiles fileList
	flag.Var(&valueFiles, "f", "values file (repeatable; later files win)")
	relName := flag.String("name", "fornax", "release name")
	namespace := flag.String("namespace", "default", "release namespace")
	notes := flag.Bool("notes", false, "render NOTES.txt instead of the manifests")
	asJSON := flag.Bool("json", false, "convert YAML documents (files or stdin) to a JSON array")
	flag.Parse()
	if *asJSON {
		if err := toJSONDocs(flag.Args()); err != nil {
			die("%v", err)
		}
		return
	}
	if flag.NArg() != 1 {
		die("usage: helmlite [-f values.yaml]... [-name release] [-namespace ns] [-notes] CHART | helmlite -json [FILE]...")
	}
	chartDir := flag.Arg(0)
	values := readYAML(filepath.Join(chartDir, "values.yaml"))
	for _, f := range valueFiles {
		values = merge(values, readYAML(f))
	}
	release := map[string]interface{}{
		"Name": *relName, "Namespace": *namespace, "Service": "Helm",
		"IsInstall": true, "IsUpgrade": false, "Revision": 1,
	}
	out, err := render(chartDir, values, release, *notes)
	if err != nil {
		die("%v", err)
	}
	os.Stdout.WriteString(out)
}
