// Package scan reads a WeChat answer in one pass, without reflection and
// without allocating for what it only validates: it checks that the answer
// is one JSON value exactly as json.Valid does, and on the way reads the
// top-level errcode and errmsg, whether the wanted key is there, and, for
// the environment lists, each environment's status and those of its
// databases and static storages. The wechat client uses it on every
// answer, so an answer is never decoded twice.
//
// Keys are matched exactly, after unescaping; when a key repeats, the last
// one counts, as when decoding into a map.
package scan

import (
	"cmp"
	"encoding/json"
	"errors"
	"strconv"
	"unicode/utf8"

	"github.com/wxcloudenv/wxcloudenv/internal/trunc"
)

// maxDepth is encoding/json's nesting limit, which json.Valid enforces.
const maxDepth = 10000

// Health is what one pass over a successful environment list read: how
// many environments there are and the resources a Filter kept.
type Health struct {
	// Items counts the environments in the answer.
	Items int
	// Resources lists, in answer order, the resources the call's
	// Filter kept: at most MaxResources of them. An environment's
	// own entry comes first, then its databases, then its static storages.
	// Text fields are bounded (see MaxIDBytes).
	Resources []Resource
	// Omitted counts the resources the filter kept beyond MaxResources.
	Omitted int
}

// Kind names what a Resource is.
type Kind string

// The resources an environment list reports a status for.
const (
	Environment   Kind = "environment"    // an environment (or a null entry in the list)
	Database      Kind = "database"       // a database of an environment (describecloudbaserunenvs)
	StaticStorage Kind = "static_storage" // a static storage of an environment (describecloudbaserunenvs)
)

// Resource is one resource of an environment list and its status, as read.
type Resource struct {
	Kind Kind
	// Env is the environment's id: env (getenvinfo) or env_id
	// (describecloudbaserunenvs); Alias is its alias.
	Env, Alias string
	// ID is a database's instance_id or a static storage's bucket, "" for
	// an environment.
	ID string
	// Status is the resource's status, "" when null or absent.
	Status string
}

// Filter decides, from a resource's kind and status, whether the
// scanner keeps it in Health.Resources. It is called once per resource.
// A nil filter keeps nothing: only Items is counted. A known status (the
// statuses in knownStatuses) reaches the filter without an allocation, so a
// filter that keeps few resources keeps the scan allocation-free for
// healthy environments.
type Filter func(kind Kind, status string) bool

// Bounds on what the scanner keeps of upstream values.
const (
	// MaxResources bounds Health.Resources; the rest are counted in
	// Health.Omitted. An answer that WECHAT_MAX_RESPONSE_BYTES admits can
	// list millions of tiny environments; alerts beyond this many would
	// not fit the 6 MB answer cap anyway.
	MaxResources = 1000
	// MaxIDBytes bounds an id or alias kept in a Resource, MaxStatusBytes a
	// status; longer values are cut at a rune boundary and end in "…".
	MaxIDBytes     = 128
	MaxStatusBytes = 64
)

// knownStatuses are the statuses a filter gets without an allocation.
// They are the status constants of package wechat (models.go), which
// its tests check.
var knownStatuses = []string{"NORMAL", "UNAVAILABLE", "HALTED", "INITIALIZING", "RUNNING",
	"UNUSABLE", "OVERDUE", "process", "online", "offline", "init"}

// KnownStatuses returns a copy of the statuses a filter gets without an
// allocation.
func KnownStatuses() []string { return append([]string(nil), knownStatuses...) }

// Shape describes an environment list: its key, the key of each
// environment's id, and whether environments carry databases and static
// storages.
type Shape struct {
	key       string
	id        string
	resources bool
}

// The two environment lists: /tcb/getenvinfo's and
// /componenttcb/describecloudbaserunenvs'.
var (
	EnvInfo = &Shape{key: "info_list", id: "env"}
	RunEnvs = &Shape{key: "env_list", id: "env_id", resources: true}
)

// Answer is what Scan read.
type Answer struct {
	HasErrCode bool   // errcode is there and not null
	ErrCode    int    // errcode, when it is an integer
	ErrCodeErr error  // errcode is there but not an integer
	ErrMsg     string // errmsg, decoded
	HasWant    bool   // the wanted key is there and not null
	ShapeErr   string // the list does not have the documented shape
	Health     Health // what was read of the list
	// keep is the call's filter; pending holds the resources kept of the
	// environment being read, reused across environments.
	keep    Filter
	pending []pendingResource
}

// pendingResource is a database or static storage kept before its
// environment's id is known.
type pendingResource struct {
	kind       Kind
	id, status field
}

func (e *syntaxError) Error() string { return e.msg + " at offset " + strconv.Itoa(e.off) }

// Errors of Scan besides syntax errors.
var (
	// ErrNotObject: the answer is valid JSON but not an object.
	ErrNotObject = errors.New("the answer is not a JSON object")
	// ErrErrCode is Answer.ErrCodeErr when errcode is not a short integer.
	ErrErrCode = errors.New("errcode is not an integer of at most 11 characters")
)

// Scan validates raw and reads it. want is the key that marks a
// successful answer; shape, when not nil, is the environment list to read,
// keeping in Answer.Health the resources keep selects (nil keeps none).
func Scan(raw []byte, want string, shape *Shape, keep Filter) (Answer, error) {
	s := scanner{data: raw}
	return s.answer(want, shape, keep)
}

// Stream is Scan over an answer that is still arriving: more(n) waits
// until more than n bytes have arrived and returns them all, or returns
// what there is once the input has ended.
func Stream(more func(n int) []byte, want string, shape *Shape, keep Filter) (Answer, error) {
	s := scanner{more: more}
	return s.answer(want, shape, keep)
}

// maxErrCodeDigits bounds an errcode literal: WeChat's have at most six
// digits, and a longer one than this is no int32.
const maxErrCodeDigits = 11

// answer reads an answer from the scanner's input.
func (s *scanner) answer(want string, shape *Shape, keep Filter) (Answer, error) {
	a := Answer{keep: keep}
	c := s.next()
	if c != '{' {
		if err := s.value(0); err != nil {
			return a, err
		}
		if err := s.end(); err != nil {
			return a, err
		}
		return a, ErrNotObject
	}
	err := s.object(0, func(key []byte) error {
		switch string(key) {
		case "errcode":
			// null counts as absent; anything but a short integer is
			// reported without being echoed.
			a.HasErrCode, a.ErrCode, a.ErrCodeErr = false, 0, nil
			s.next()
			start := s.pos
			if err := s.value(1); err != nil {
				return err
			}
			if lit := s.data[start:s.pos]; string(lit) != "null" {
				a.HasErrCode = true
				n, err := strconv.Atoi(string(lit[:min(len(lit), maxErrCodeDigits+1)]))
				if err != nil || len(lit) > maxErrCodeDigits || n < -(1<<31) || n >= 1<<31 {
					a.ErrCodeErr = ErrErrCode
					n = 0
				}
				a.ErrCode = n
			}
			return nil
		case "errmsg":
			a.ErrMsg = ""
			if s.next() == '"' {
				start := s.pos
				esc, err := s.str()
				if err != nil {
					return err
				}
				a.ErrMsg = decodeString(s.data[start:s.pos], esc)
				return nil
			}
			return s.value(1)
		}
		isWant := string(key) == want
		if isWant {
			a.HasWant = s.next() != 'n'
		}
		if shape != nil && string(key) == shape.key {
			a.Health = Health{}
			var err error
			a.ShapeErr, err = s.list(shape, &a)
			return err
		}
		return s.value(1)
	})
	if err != nil {
		return a, err
	}
	return a, s.end()
}

// The shape checks below return a description of what is wrong, or "".
// A value that repeats a key replaces the earlier one, problems included.

// list reads an environment list.
func (s *scanner) list(shape *Shape, a *Answer) (string, error) {
	switch s.next() {
	case 'n':
		return "", s.value(1)
	case '[':
	default:
		return shape.key + " is not an array", s.value(1)
	}
	bad := ""
	err := s.array(1, func() error {
		a.Health.Items++
		var b string
		var err error
		switch s.next() {
		case '{', 'n':
			b, err = s.env(shape, a)
		default:
			b, err = "an environment in "+shape.key+" is not an object", s.value(2)
		}
		if bad == "" {
			bad = b
		}
		return err
	})
	return bad, err
}

// env reads one environment (or null) and keeps it, and its databases and
// static storages, as a.keep says.
func (s *scanner) env(shape *Shape, a *Answer) (string, error) {
	if s.next() == 'n' {
		if a.keep != nil && a.keep(Environment, "") {
			a.add(Resource{Kind: Environment})
		}
		return "", s.literal("null")
	}
	var id, aliasName, status field
	a.pending = a.pending[:0]
	var bad [5]string
	err := s.object(2, func(key []byte) (err error) {
		// Comparisons, not a switch: a switch with a variable case would
		// copy the key.
		switch {
		case string(key) == shape.id:
			bad[0], err = s.field(&id, 3, shape.key)
		case string(key) == "alias":
			bad[1], err = s.field(&aliasName, 3, shape.key)
		case string(key) == "status":
			bad[2], err = s.field(&status, 3, shape.key)
		case shape.resources && string(key) == "databases":
			a.drop(Database)
			bad[3], err = s.resources(shape.key, "databases", "instance_id", Database, a)
		case shape.resources && string(key) == "static_storages":
			a.drop(StaticStorage)
			bad[4], err = s.resources(shape.key, "static_storages", "bucket", StaticStorage, a)
		default:
			err = s.value(3)
		}
		return err
	})
	if err != nil {
		return "", err
	}
	for _, b := range bad {
		if b != "" {
			return b, nil
		}
	}
	if a.keep == nil {
		return "", nil
	}
	keepEnv := a.keep(Environment, s.status(status))
	if !keepEnv && len(a.pending) == 0 {
		return "", nil
	}
	envID, envAlias := Bounded(id.text(s.data), MaxIDBytes), Bounded(aliasName.text(s.data), MaxIDBytes)
	if keepEnv {
		a.add(Resource{Kind: Environment, Env: envID, Alias: envAlias, Status: Bounded(status.text(s.data), MaxStatusBytes)})
	}
	for _, kind := range [...]Kind{Database, StaticStorage} {
		for _, p := range a.pending {
			if p.kind == kind {
				a.add(Resource{Kind: p.kind, Env: envID, Alias: envAlias, ID: Bounded(p.id.text(s.data), MaxIDBytes),
					Status: Bounded(p.status.text(s.data), MaxStatusBytes)})
			}
		}
	}
	return "", nil
}

// add keeps r, or counts it when MaxResources are kept already.
func (a *Answer) add(r Resource) {
	if len(a.Health.Resources) >= MaxResources {
		a.Health.Omitted++
		return
	}
	a.Health.Resources = append(a.Health.Resources, r)
}

// drop forgets the pending resources of a kind: a repeated key replaces
// the earlier list.
func (a *Answer) drop(kind Kind) {
	kept := a.pending[:0]
	for _, p := range a.pending {
		if p.kind != kind {
			kept = append(kept, p)
		}
	}
	a.pending = kept
}

// status returns a status field's text for a filter: a known value
// without allocating, another bounded.
func (s *scanner) status(f field) string {
	if !f.set {
		return ""
	}
	if !f.esc {
		raw := s.data[f.start+1 : f.end-1]
		for _, k := range knownStatuses {
			if string(raw) == k {
				return k
			}
		}
	}
	return Bounded(f.text(s.data), MaxStatusBytes)
}

// Bounded cuts s to at most n bytes at a rune boundary, ending it in "…"
// when it was cut (trunc.Cut).
func Bounded(s string, n int) string { return trunc.Cut(s, n) }

// resources reads the databases or static storages of an environment and
// adds to a.pending those that a.keep keeps.
func (s *scanner) resources(list, name, idKey string, kind Kind, a *Answer) (string, error) {
	switch s.next() {
	case 'n':
		return "", s.literal("null")
	case '[':
	default:
		return name + " of an environment in " + list + " is not an array", s.value(3)
	}
	problem := ""
	err := s.array(3, func() error {
		switch s.next() {
		case 'n':
			return s.literal("null")
		case '{':
		default:
			if problem == "" {
				problem = "an element of " + name + " in " + list + " is not an object"
			}
			return s.value(4)
		}
		var id, status field
		var fieldBad [2]string
		err := s.object(4, func(key []byte) (err error) {
			switch {
			case string(key) == idKey:
				fieldBad[0], err = s.field(&id, 5, list)
			case string(key) == "status":
				fieldBad[1], err = s.field(&status, 5, list)
			default:
				err = s.value(5)
			}
			return err
		})
		if err != nil {
			return err
		}
		if b := cmp.Or(fieldBad[0], fieldBad[1]); b != "" {
			if problem == "" {
				problem = b
			}
			return nil
		}
		if a.keep != nil && a.keep(kind, s.status(status)) {
			if len(a.pending)+len(a.Health.Resources) >= MaxResources {
				// Past the bound already: counted, not held.
				a.Health.Omitted++
				return nil
			}
			a.pending = append(a.pending, pendingResource{kind: kind, id: id, status: status})
		}
		return nil
	})
	return problem, err
}

// field is a string value's place in the answer, quotes included; the
// zero field is null or absent.
type field struct {
	start, end int
	esc, set   bool
}

func (f field) text(data []byte) string {
	if !f.set {
		return ""
	}
	return decodeString(data[f.start:f.end], f.esc)
}

// field reads a string or null at the given depth into f.
func (s *scanner) field(f *field, depth int, list string) (string, error) {
	*f = field{}
	switch s.next() {
	case '"':
		start := s.pos
		esc, err := s.str()
		if err != nil {
			return "", err
		}
		*f = field{start: start, end: s.pos, esc: esc, set: true}
		return "", nil
	case 'n':
		return "", s.literal("null")
	}
	return "a field of " + list + " is neither a string nor null", s.value(depth)
}

// decodeString returns the text of a JSON string (quotes included) as
// encoding/json would decode it.
func decodeString(q []byte, esc bool) string {
	inner := q[1 : len(q)-1]
	if !esc && utf8.Valid(inner) {
		return string(inner)
	}
	var v string
	_ = json.Unmarshal(q, &v)
	return v
}

// SWAR constants: a byte repeated across a word.
const (
	ones   = 0x0101010101010101
	highs  = 0x8080808080808080
	quotes = ones * '"'
	slashs = ones * '\\'
)

func (s *scanner) is(i int, c byte) bool { return s.have(i) && s.data[i] == c }

func (s *scanner) digit(i int) bool { return s.have(i) && isDigit(s.data[i]) }

func (s *scanner) digits() {
	for s.digit(s.pos) {
		s.pos++
	}
}
