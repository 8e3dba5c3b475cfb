package config

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Option is one configurable value.
type Option struct {
	Key     string // "gateway.max_frame_bytes"
	Help    string
	Default string
	field   reflect.Value
}

// Env is the environment variable of the option.
func (o Option) Env() string {
	return "PARLEY_" + strings.ToUpper(strings.NewReplacer(".", "_").Replace(o.Key))
}

// Flag is the command-line flag name of the option, without dashes.
func (o Option) Flag() string {
	return strings.NewReplacer(".", "-", "_", "-").Replace(o.Key)
}

// Options lists every option of c, bound to c's fields, sorted by key.
func Options(c *Config) []Option {
	var out []Option
	walk(reflect.ValueOf(c).Elem(), "", &out)
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

func walk(v reflect.Value, prefix string, out *[]Option) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		key := prefix + name
		fv := v.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Duration(0)) {
			walk(fv, key+".", out)
			continue
		}
		*out = append(*out, Option{Key: key, Help: f.Tag.Get("help"), Default: format(fv), field: fv})
	}
}

func format(v reflect.Value) string {
	switch x := v.Interface().(type) {
	case time.Duration:
		return x.String()
	case []string:
		return strings.Join(x, ",")
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v.Interface())
}

// set parses s into the option's field.
func (o Option) set(s string) error {
	v := o.field
	switch v.Interface().(type) {
	case time.Duration:
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return bad(o.Key, "%q is not a duration like 30s or 15m", s)
		}
		v.SetInt(int64(d))
		return nil
	case []string:
		var parts []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		v.Set(reflect.ValueOf(parts))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return bad(o.Key, "%q is not true or false", s)
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return bad(o.Key, "%q is not an integer", s)
		}
		v.SetInt(n)
	case reflect.Float64:
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return bad(o.Key, "%q is not a number", s)
		}
		v.SetFloat(f)
	default:
		return bad(o.Key, "unsupported option type %s", v.Type())
	}
	return nil
}

// flagValue adapts an Option to flag.Value.
type flagValue struct{ o Option }

func (f flagValue) String() string {
	if !f.o.field.IsValid() {
		return ""
	}
	return format(f.o.field)
}
func (f flagValue) Set(s string) error { return f.o.set(s) }
func (f flagValue) IsBoolFlag() bool   { return f.o.field.IsValid() && f.o.field.Kind() == reflect.Bool }

// Loader reads a Config from a file, the environment and flags.
type Loader struct {
	cfg        Config
	opts       []Option
	configFile string
}

// NewLoader returns a Loader holding the defaults.
func NewLoader() *Loader {
	l := &Loader{cfg: Default()}
	l.opts = Options(&l.cfg)
	return l
}

// Load registers --config and one flag per option on fs, then builds the
// Config: defaults, then the JSON file (from --config or
// PARLEY_CONFIG), then PARLEY_* variables from environ, then the flags in
// args. It returns an *Error naming the bad key for any invalid value,
// unknown key or unknown variable, and the remaining positional arguments.
func (l *Loader) Load(fs *flag.FlagSet, args []string, environ []string) (Config, []string, error) {
	// Flags are parsed first into a side table so that the file and the
	// environment can be applied before them.
	fs.StringVar(&l.configFile, "config", "", "path to a JSON config file (env PARLEY_CONFIG)")
	pending := map[string]string{}
	byFlag := map[string]Option{}
	for _, o := range l.opts {
		o := o
		byFlag[o.Flag()] = o
		name := o.Flag()
		fs.Func(name, o.Help+" (env "+o.Env()+", default "+quoteDefault(o.Default)+")", func(s string) error {
			if err := (Option{Key: o.Key, field: scratch(o.field)}).set(s); err != nil {
				return err
			}
			pending[name] = s
			return nil
		})
		if o.field.Kind() == reflect.Bool {
			// flag.Func is not a bool flag; re-register as one so "--x" works.
			f := fs.Lookup(name)
			f.Value = boolFunc{f.Value}
		}
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, nil, err
	}
	env := map[string]string{}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if ok && strings.HasPrefix(k, "PARLEY_") {
			env[k] = v
		}
	}
	file := l.configFile
	if file == "" {
		file = env["PARLEY_CONFIG"]
	}
	if file != "" {
		if err := l.loadFile(file); err != nil {
			return Config{}, nil, err
		}
	}
	known := map[string]bool{"PARLEY_CONFIG": true}
	for _, o := range l.opts {
		known[o.Env()] = true
		if v, ok := env[o.Env()]; ok {
			if err := o.set(v); err != nil {
				return Config{}, nil, err
			}
		}
	}
	for k := range env {
		if !known[k] && !strings.HasPrefix(k, "PARLEY_TEST_") {
			return Config{}, nil, &Error{Key: k, Msg: "unknown environment variable"}
		}
	}
	// Apply flags in a stable order.
	names := make([]string, 0, len(pending))
	for n := range pending {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := byFlag[n].set(pending[n]); err != nil {
			return Config{}, nil, err
		}
	}
	cfg := l.cfg
	if err := cfg.Validate(); err != nil {
		return Config{}, nil, err
	}
	return cfg, fs.Args(), nil
}

type boolFunc struct{ flag.Value }

func (boolFunc) IsBoolFlag() bool { return true }

// scratch returns a settable copy of v so flag values can be checked at parse
// time without applying them yet.
func scratch(v reflect.Value) reflect.Value {
	return reflect.New(v.Type()).Elem()
}

func quoteDefault(s string) string {
	if s == "" {
		return `""`
	}
	return s
}

func (l *Loader) loadFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return &Error{Key: "config", Msg: err.Error()}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return &Error{Key: "config", Msg: fmt.Sprintf("%s is not a JSON object: %v", path, err)}
	}
	if _, err := dec.Token(); err != io.EOF {
		return &Error{Key: "config", Msg: fmt.Sprintf("%s has data after the JSON object", path)}
	}
	flat := map[string]any{}
	flatten("", raw, flat)
	byKey := map[string]Option{}
	for _, o := range l.opts {
		byKey[o.Key] = o
	}
	keys := make([]string, 0, len(flat))
	for k := range flat {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		o, ok := byKey[k]
		if !ok {
			return &Error{Key: k, Msg: "unknown key in " + path}
		}
		var s string
		switch x := flat[k].(type) {
		case string:
			s = x
		case json.Number:
			s = x.String()
		case bool:
			s = strconv.FormatBool(x)
		case []any:
			parts := make([]string, len(x))
			for i, e := range x {
				str, ok := e.(string)
				if !ok {
					return bad(k, "list elements must be strings")
				}
				parts[i] = str
			}
			s = strings.Join(parts, ",")
		case nil:
			continue
		default:
			return bad(k, "unsupported JSON value")
		}
		if err := o.set(s); err != nil {
			return err
		}
	}
	return nil
}

func flatten(prefix string, m map[string]any, out map[string]any) {
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			flatten(prefix+k+".", sub, out)
			continue
		}
		out[prefix+k] = v
	}
}

// Usage writes one line per option: flag, environment variable, default and
// help.
func Usage(w io.Writer) {
	c := Default()
	for _, o := range Options(&c) {
		fmt.Fprintf(w, "  --%s\n        %s\n        env %s, default %s\n", o.Flag(), o.Help, o.Env(), quoteDefault(o.Default))
	}
}
