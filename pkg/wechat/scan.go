package wechat

import (
	"cmp"
	"encoding/json"
	"errors"
	"strconv"
	"unicode/utf8"
)

// This file reads an answer in one pass, without reflection and without
// allocating for what it only validates: it checks that the answer is one
// JSON value exactly as json.Valid does, and on the way reads the top-level
// errcode and errmsg, whether the wanted key is there, and, for the
// environment lists, each environment's status and those of its databases
// and static storages. The client uses it on every answer; the core builds
// its alerts from what it read, so an answer is never decoded twice.
//
// Keys are matched exactly, after unescaping; when a key repeats, the last
// one counts, as when decoding into a map.

// maxDepth is encoding/json's nesting limit, which json.Valid enforces.
const maxDepth = 10000

// Health is what one pass over a successful environment list read: how
// many environments there are and the resources a StatusFilter kept.
type Health struct {
	// Items counts the environments in the answer.
	Items int
	// Resources lists, in answer order, the resources the call's
	// StatusFilter kept: at most MaxResources of them. An environment's
	// own entry comes first, then its databases, then its static storages.
	// Text fields are bounded (see MaxIDBytes).
	Resources []Resource
	// Omitted counts the resources the filter kept beyond MaxResources.
	Omitted int
}

// ResourceKind names what a Resource is.
type ResourceKind string

// The resources an environment list reports a status for.
const (
	ResourceEnvironment   ResourceKind = "environment"    // an environment (or a null entry in the list)
	ResourceDatabase      ResourceKind = "database"       // a database of an environment (describecloudbaserunenvs)
	ResourceStaticStorage ResourceKind = "static_storage" // a static storage of an environment (describecloudbaserunenvs)
)

// Resource is one resource of an environment list and its status, as read.
type Resource struct {
	Kind ResourceKind
	// Env is the environment's id: env (getenvinfo) or env_id
	// (describecloudbaserunenvs); Alias is its alias.
	Env, Alias string
	// ID is a database's instance_id or a static storage's bucket, "" for
	// an environment.
	ID string
	// Status is the resource's status, "" when null or absent.
	Status string
}

// StatusFilter decides, from a resource's kind and status, whether the
// scanner keeps it in Health.Resources. It is called once per resource.
// A nil filter keeps nothing: only Items is counted. A known status (the
// constants of models.go) reaches the filter without an allocation, so a
// filter that keeps few resources keeps the scan allocation-free for
// healthy environments.
type StatusFilter func(kind ResourceKind, status string) bool

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
var knownStatuses = []string{EnvNormal, EnvUnavailable, EnvHalted, DatabaseInitializing, DatabaseRunning,
	DatabaseUnusable, DatabaseOverdue, StaticStorageProcess, StaticStorageOnline, StaticStorageOffline, StaticStorageInit}

// listShape describes an environment list: its key, the key of each
// environment's id, and whether environments carry databases and static
// storages.
type listShape struct {
	key       string
	id        string
	resources bool
}

var (
	envInfoShape = &listShape{key: "info_list", id: "env"}
	runEnvsShape = &listShape{key: "env_list", id: "env_id", resources: true}
)

// answer is what scanAnswer read.
type answer struct {
	hasErrCode bool
	errCode    int
	errCodeErr error // errcode is there but not an integer
	errMsg     string
	hasWant    bool   // the wanted key is there and not null
	shapeErr   string // the list does not have the documented shape
	health     Health
	// keep is the call's filter; pending holds the resources kept of the
	// environment being read, reused across environments.
	keep    StatusFilter
	pending []pendingResource
}

// pendingResource is a database or static storage kept before its
// environment's id is known.
type pendingResource struct {
	kind       ResourceKind
	id, status field
}

func (e *syntaxError) Error() string { return e.msg + " at offset " + strconv.Itoa(e.off) }

var (
	errNotObject = errors.New("the answer is not a JSON object")
	errErrCode   = errors.New("errcode is not an integer of at most 11 characters")
)

// scanAnswer validates raw and reads it. want is the key that marks a
// successful answer; shape, when not nil, is the environment list to read.
func scanAnswer(raw []byte, want string, shape *listShape) (answer, error) {
	return scanAnswerKeep(raw, want, shape, nil)
}

// scanAnswerKeep is scanAnswer keeping in the health the resources keep
// selects.
func scanAnswerKeep(raw []byte, want string, shape *listShape, keep StatusFilter) (answer, error) {
	s := scanner{data: raw}
	return s.answer(want, shape, keep)
}

// maxErrCodeDigits bounds an errcode literal: WeChat's have at most six
// digits, and a longer one than this is no int32.
const maxErrCodeDigits = 11

// answer reads an answer from the scanner's input.
func (s *scanner) answer(want string, shape *listShape, keep StatusFilter) (answer, error) {
	a := answer{keep: keep}
	c := s.next()
	if c != '{' {
		if err := s.value(0); err != nil {
			return a, err
		}
		if err := s.end(); err != nil {
			return a, err
		}
		return a, errNotObject
	}
	err := s.object(0, func(key []byte) error {
		switch string(key) {
		case "errcode":
			// null counts as absent; anything but a short integer is
			// reported without being echoed.
			a.hasErrCode, a.errCode, a.errCodeErr = false, 0, nil
			s.next()
			start := s.pos
			if err := s.value(1); err != nil {
				return err
			}
			if lit := s.data[start:s.pos]; string(lit) != "null" {
				a.hasErrCode = true
				n, err := strconv.Atoi(string(lit[:min(len(lit), maxErrCodeDigits+1)]))
				if err != nil || len(lit) > maxErrCodeDigits || n < -(1<<31) || n >= 1<<31 {
					a.errCodeErr = errErrCode
					n = 0
				}
				a.errCode = n
			}
			return nil
		case "errmsg":
			a.errMsg = ""
			if s.next() == '"' {
				start := s.pos
				esc, err := s.str()
				if err != nil {
					return err
				}
				a.errMsg = decodeString(s.data[start:s.pos], esc)
				return nil
			}
			return s.value(1)
		}
		isWant := string(key) == want
		if isWant {
			a.hasWant = s.next() != 'n'
		}
		if shape != nil && string(key) == shape.key {
			a.health = Health{}
			var err error
			a.shapeErr, err = s.list(shape, &a)
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
func (s *scanner) list(shape *listShape, a *answer) (string, error) {
	switch s.next() {
	case 'n':
		return "", s.value(1)
	case '[':
	default:
		return shape.key + " is not an array", s.value(1)
	}
	bad := ""
	err := s.array(1, func() error {
		a.health.Items++
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
func (s *scanner) env(shape *listShape, a *answer) (string, error) {
	if s.next() == 'n' {
		if a.keep != nil && a.keep(ResourceEnvironment, "") {
			a.add(Resource{Kind: ResourceEnvironment})
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
			a.drop(ResourceDatabase)
			bad[3], err = s.resources(shape.key, "databases", "instance_id", ResourceDatabase, a)
		case shape.resources && string(key) == "static_storages":
			a.drop(ResourceStaticStorage)
			bad[4], err = s.resources(shape.key, "static_storages", "bucket", ResourceStaticStorage, a)
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
	keepEnv := a.keep(ResourceEnvironment, s.status(status))
	if !keepEnv && len(a.pending) == 0 {
		return "", nil
	}
	envID, envAlias := bounded(id.text(s.data), MaxIDBytes), bounded(aliasName.text(s.data), MaxIDBytes)
	if keepEnv {
		a.add(Resource{Kind: ResourceEnvironment, Env: envID, Alias: envAlias, Status: bounded(status.text(s.data), MaxStatusBytes)})
	}
	for _, kind := range [...]ResourceKind{ResourceDatabase, ResourceStaticStorage} {
		for _, p := range a.pending {
			if p.kind == kind {
				a.add(Resource{Kind: p.kind, Env: envID, Alias: envAlias, ID: bounded(p.id.text(s.data), MaxIDBytes),
					Status: bounded(p.status.text(s.data), MaxStatusBytes)})
			}
		}
	}
	return "", nil
}

// add keeps r, or counts it when MaxResources are kept already.
func (a *answer) add(r Resource) {
	if len(a.health.Resources) >= MaxResources {
		a.health.Omitted++
		return
	}
	a.health.Resources = append(a.health.Resources, r)
}

// drop forgets the pending resources of a kind: a repeated key replaces
// the earlier list.
func (a *answer) drop(kind ResourceKind) {
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
	return bounded(f.text(s.data), MaxStatusBytes)
}

// bounded cuts s to at most n bytes at a rune boundary, ending it in "…"
// when it was cut.
func bounded(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// resources reads the databases or static storages of an environment and
// adds to a.pending those that a.keep keeps.
func (s *scanner) resources(list, name, idKey string, kind ResourceKind, a *answer) (string, error) {
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
			if len(a.pending)+len(a.health.Resources) >= MaxResources {
				// Past the bound already: counted, not held.
				a.health.Omitted++
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

// is reports whether the field is the string v.
func (f field) is(data []byte, v string) bool {
	if !f.set {
		return v == ""
	}
	if !f.esc {
		return string(data[f.start+1:f.end-1]) == v
	}
	return decodeString(data[f.start:f.end], true) == v
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
