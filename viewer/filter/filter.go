// Package filter parses the `where` and `orderby` parameters of the viewer's
// /filter endpoint — the language the Hub's dataset viewer accepts — into a
// validated syntax tree, and renders it as SQL in which every column is a
// quoted identifier checked against the dataset's columns and every value a
// bound parameter. Nothing from the caller is ever pasted into SQL text.
//
// The language: predicates `"col" <op> <value>` joined by AND and OR, with
// parentheses; `"col" IS [NOT] NULL`; columns may name struct fields
// ("a"."b") and be followed by one call of a whitelisted scalar function
// ("text".lower()). Values are unsigned numbers, 'strings', true, false or
// null. Anything else is a syntax error.
package filter

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits that keep a filter cheap to parse and to run.
const (
	MaxLength     = 8192 // bytes of a where or orderby parameter
	MaxPredicates = 64
	MaxDepth      = 16
	MaxStringLen  = 4096
	maxDigits     = 30
)

// ErrSyntax is wrapped by every error about the form of the input.
var ErrSyntax = errors.New("syntax error")

// ErrColumn is wrapped by errors about a column the dataset does not have.
var ErrColumn = errors.New("unknown column")

func syntaxf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrSyntax, fmt.Sprintf(format, args...))
}

// functions are the scalar functions a column may be passed through, with
// the number of extra arguments each accepts (min, max).
var functions = map[string][2]int{
	"lower": {0, 0}, "upper": {0, 0}, "lcase": {0, 0}, "ucase": {0, 0},
	"length": {0, 0}, "len": {0, 0}, "strlen": {0, 0}, "array_length": {0, 1},
	"trim": {0, 1}, "ltrim": {0, 1}, "rtrim": {0, 1}, "strip_accents": {0, 0}, "reverse": {0, 0},
	"replace": {2, 2}, "substring": {1, 2}, "substr": {1, 2}, "left": {1, 1}, "right": {1, 1},
	"contains": {1, 1}, "starts_with": {1, 1}, "ends_with": {1, 1}, "prefix": {1, 1}, "suffix": {1, 1},
	"abs": {0, 0}, "round": {0, 1}, "floor": {0, 0}, "ceil": {0, 0},
	"year": {0, 0}, "month": {0, 0}, "day": {0, 0}, "hour": {0, 0}, "minute": {0, 0}, "second": {0, 0},
}

// Column is a reference to a column or a field of a struct column, possibly
// passed through a function.
type Column struct {
	Path []string // column name, then struct field names
	Func string   // "" or a key of functions
	Args []Value
}

// Value is a literal: int64, float64, string, bool, or nil for null.
type Value struct{ V any }

// Expr is a node of a where clause: an *And, *Or or *Predicate.
type Expr interface{ isExpr() }

// And and Or join two expressions.
type (
	And struct{ L, R Expr }
	Or  struct{ L, R Expr }
)

// Predicate compares a column with a value.
type Predicate struct {
	Col Column
	Op  string // canonical: "=", "<>", "<", ">", "<=", ">=", "LIKE", "NOT LIKE", "ILIKE", "NOT ILIKE", "GLOB", "SIMILAR TO", "~", "IS", "IS NOT"
	Val Value
}

func (*And) isExpr()       {}
func (*Or) isExpr()        {}
func (*Predicate) isExpr() {}

// Order is a parsed orderby.
type Order struct {
	Col  Column
	Desc bool
}

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tString
	tNumber
	tWord
	tOp
	tLParen
	tRParen
	tDot
	tComma
)

type token struct {
	kind tokKind
	text string // ident: the unquoted name; word: upper-cased; others: as written
	pos  int
}

func lex(s string) ([]token, error) {
	if len(s) > MaxLength {
		return nil, syntaxf("the expression is longer than %d bytes", MaxLength)
	}
	if !utf8.ValidString(s) {
		return nil, syntaxf("the expression is not valid UTF-8")
	}
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '"':
			var b strings.Builder
			j := i + 1
			for ; ; j++ {
				if j >= len(s) {
					return nil, syntaxf("unterminated column name at %d", i)
				}
				if s[j] == '"' {
					if j+1 < len(s) && s[j+1] == '"' {
						b.WriteByte('"')
						j++
						continue
					}
					break
				}
				b.WriteByte(s[j])
			}
			if b.Len() == 0 {
				return nil, syntaxf("empty column name at %d", i)
			}
			toks = append(toks, token{tIdent, b.String(), i})
			i = j + 1
		case c == '\'':
			var b strings.Builder
			j := i + 1
			for ; ; j++ {
				if j >= len(s) {
					return nil, syntaxf("unterminated string at %d", i)
				}
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						b.WriteByte('\'')
						j++
						continue
					}
					break
				}
				b.WriteByte(s[j])
			}
			if b.Len() > MaxStringLen {
				return nil, syntaxf("a string is longer than %d bytes", MaxStringLen)
			}
			toks = append(toks, token{tString, b.String(), i})
			i = j + 1
		case c >= '0' && c <= '9':
			j := i
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.') {
				j++
			}
			if j-i > maxDigits {
				return nil, syntaxf("number too long at %d", i)
			}
			toks = append(toks, token{tNumber, s[i:j], i})
			i = j
		case c < utf8.RuneSelf && (unicode.IsLetter(rune(c)) || c == '_'):
			j := i
			for j < len(s) && s[j] < utf8.RuneSelf && (unicode.IsLetter(rune(s[j])) || s[j] == '_') {
				j++
			}
			toks = append(toks, token{tWord, s[i:j], i})
			i = j
		case c == '(':
			toks = append(toks, token{tLParen, "(", i})
			i++
		case c == ')':
			toks = append(toks, token{tRParen, ")", i})
			i++
		case c == '.':
			toks = append(toks, token{tDot, ".", i})
			i++
		case c == ',':
			toks = append(toks, token{tComma, ",", i})
			i++
		case strings.ContainsRune("=<>!~", rune(c)):
			j := i
			for j < len(s) && strings.ContainsRune("=<>!~", rune(s[j])) {
				j++
			}
			op := s[i:j]
			switch op {
			case "=", "==", "<>", "!=", "<", ">", "<=", ">=", "~":
			default:
				return nil, syntaxf("unknown operator %q at %d", op, i)
			}
			toks = append(toks, token{tOp, op, i})
			i = j
		default:
			return nil, syntaxf("unexpected character %q at %d", c, i)
		}
	}
	return append(toks, token{tEOF, "", len(s)}), nil
}

type parser struct {
	toks  []token
	i     int
	preds int
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

// word reports whether the next token is the keyword w (any case), consuming it if so.
func (p *parser) word(w string) bool {
	t := p.peek()
	if t.kind == tWord && strings.EqualFold(t.text, w) {
		p.i++
		return true
	}
	return false
}

// ParseWhere parses a where parameter.
func ParseWhere(s string) (Expr, error) {
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	e, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, syntaxf("unexpected %q at %d", t.text, t.pos)
	}
	return e, nil
}

func (p *parser) or(depth int) (Expr, error) {
	l, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	for p.word("OR") {
		r, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		l = &Or{l, r}
	}
	return l, nil
}

func (p *parser) and(depth int) (Expr, error) {
	l, err := p.primary(depth)
	if err != nil {
		return nil, err
	}
	for p.word("AND") {
		r, err := p.primary(depth)
		if err != nil {
			return nil, err
		}
		l = &And{l, r}
	}
	return l, nil
}

func (p *parser) primary(depth int) (Expr, error) {
	if depth > MaxDepth {
		return nil, syntaxf("too many nested parentheses")
	}
	if p.peek().kind == tLParen {
		// "(" starts either a group or a parenthesised column: ("a"."b").lower().
		if p.toks[p.i+1].kind == tIdent && p.columnInParens() {
			return p.predicate()
		}
		p.next()
		e, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if t := p.next(); t.kind != tRParen {
			return nil, syntaxf("expected ')' at %d", t.pos)
		}
		return e, nil
	}
	return p.predicate()
}

// columnInParens looks ahead from "(" for `( "a"."b" ) .`: a column in
// parentheses followed by a function call.
func (p *parser) columnInParens() bool {
	j := p.i + 1
	for p.toks[j].kind == tIdent {
		j++
		if p.toks[j].kind != tDot {
			break
		}
		j++
	}
	return p.toks[j].kind == tRParen && p.toks[j+1].kind == tDot
}

func (p *parser) predicate() (Expr, error) {
	p.preds++
	if p.preds > MaxPredicates {
		return nil, syntaxf("more than %d conditions", MaxPredicates)
	}
	col, err := p.column()
	if err != nil {
		return nil, err
	}
	op, err := p.operator()
	if err != nil {
		return nil, err
	}
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	if op == "IS" || op == "IS NOT" {
		switch v.V.(type) {
		case nil, bool:
		default:
			return nil, syntaxf("IS takes NULL, TRUE or FALSE")
		}
	} else if v.V == nil {
		return nil, syntaxf("compare with null using IS NULL or IS NOT NULL")
	}
	return &Predicate{Col: col, Op: op, Val: v}, nil
}

func (p *parser) operator() (string, error) {
	t := p.next()
	if t.kind == tOp {
		switch t.text {
		case "==":
			return "=", nil
		case "!=":
			return "<>", nil
		}
		return t.text, nil
	}
	if t.kind != tWord {
		return "", syntaxf("expected an operator at %d", t.pos)
	}
	switch strings.ToUpper(t.text) {
	case "LIKE", "ILIKE", "GLOB":
		return strings.ToUpper(t.text), nil
	case "NOT":
		if p.word("LIKE") {
			return "NOT LIKE", nil
		}
		if p.word("ILIKE") {
			return "NOT ILIKE", nil
		}
	case "SIMILAR":
		if p.word("TO") {
			return "SIMILAR TO", nil
		}
	case "IS":
		if p.word("NOT") {
			return "IS NOT", nil
		}
		return "IS", nil
	}
	return "", syntaxf("expected an operator at %d", t.pos)
}

func (p *parser) value() (Value, error) {
	t := p.next()
	switch t.kind {
	case tString:
		return Value{t.text}, nil
	case tNumber:
		return number(t)
	case tWord:
		switch strings.ToLower(t.text) {
		case "true":
			return Value{true}, nil
		case "false":
			return Value{false}, nil
		case "null":
			return Value{nil}, nil
		}
	}
	return Value{}, syntaxf("expected a value at %d", t.pos)
}

func number(t token) (Value, error) {
	if !strings.Contains(t.text, ".") {
		n, err := strconv.ParseInt(t.text, 10, 64)
		if err != nil {
			return Value{}, syntaxf("number out of range at %d", t.pos)
		}
		return Value{n}, nil
	}
	f, err := strconv.ParseFloat(t.text, 64)
	if err != nil || strings.Count(t.text, ".") > 1 || strings.HasSuffix(t.text, ".") {
		return Value{}, syntaxf("invalid number %q at %d", t.text, t.pos)
	}
	return Value{f}, nil
}

// column parses `"a"."b"`, `"a".f(args)` or `("a"."b").f(args)`.
func (p *parser) column() (Column, error) {
	var c Column
	paren := false
	if p.peek().kind == tLParen {
		p.next()
		paren = true
	}
	t := p.next()
	if t.kind != tIdent {
		return c, syntaxf("expected a double-quoted column name at %d", t.pos)
	}
	c.Path = []string{t.text}
	for p.peek().kind == tDot && p.toks[p.i+1].kind == tIdent {
		p.next()
		c.Path = append(c.Path, p.next().text)
	}
	if paren {
		if t := p.next(); t.kind != tRParen {
			return c, syntaxf("expected ')' at %d", t.pos)
		}
		if p.peek().kind != tDot {
			return c, syntaxf("expected a function call after the column at %d", p.peek().pos)
		}
	}
	if p.peek().kind == tDot {
		p.next()
		f := p.next()
		if f.kind != tWord {
			return c, syntaxf("expected a function name at %d", f.pos)
		}
		name := strings.ToLower(f.text)
		arity, ok := functions[name]
		if !ok {
			return c, syntaxf("function %q is not allowed", f.text)
		}
		if t := p.next(); t.kind != tLParen {
			return c, syntaxf("expected '(' at %d", t.pos)
		}
		for p.peek().kind != tRParen {
			if len(c.Args) > 0 {
				if t := p.next(); t.kind != tComma {
					return c, syntaxf("expected ',' at %d", t.pos)
				}
			}
			v, err := p.value()
			if err != nil {
				return c, err
			}
			if v.V == nil {
				return c, syntaxf("null is not a function argument")
			}
			c.Args = append(c.Args, v)
		}
		p.next()
		if len(c.Args) < arity[0] || len(c.Args) > arity[1] {
			return c, syntaxf("%s takes %d to %d arguments", name, arity[0], arity[1])
		}
		c.Func = name
	}
	return c, nil
}

// ParseOrderBy parses an orderby parameter: one column, optionally ASC or DESC.
func ParseOrderBy(s string) (*Order, error) {
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	col, err := p.column()
	if err != nil {
		return nil, err
	}
	o := &Order{Col: col}
	if p.word("DESC") {
		o.Desc = true
	} else {
		p.word("ASC")
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, syntaxf("unexpected %q at %d", t.text, t.pos)
	}
	return o, nil
}

// SQL renders parsed clauses for a table with the given columns. Identifiers
// are quoted, values become "?" with their values appended to args.
type SQL struct {
	Columns map[string]bool
	Args    []any
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func (w *SQL) column(c Column) (string, error) {
	if !w.Columns[c.Path[0]] {
		return "", fmt.Errorf("%w: %q", ErrColumn, c.Path[0])
	}
	parts := make([]string, len(c.Path))
	for i, p := range c.Path {
		parts[i] = quoteIdent(p)
	}
	s := strings.Join(parts, ".")
	if c.Func == "" {
		return s, nil
	}
	args := []string{s}
	for _, a := range c.Args {
		w.Args = append(w.Args, a.V)
		args = append(args, "?")
	}
	return c.Func + "(" + strings.Join(args, ", ") + ")", nil
}

// Where renders an expression.
func (w *SQL) Where(e Expr) (string, error) {
	switch x := e.(type) {
	case *And:
		return w.binary("AND", x.L, x.R)
	case *Or:
		return w.binary("OR", x.L, x.R)
	case *Predicate:
		col, err := w.column(x.Col)
		if err != nil {
			return "", err
		}
		if x.Op == "IS" || x.Op == "IS NOT" {
			lit := "NULL"
			if b, ok := x.Val.V.(bool); ok {
				lit = strings.ToUpper(strconv.FormatBool(b))
			}
			return col + " " + x.Op + " " + lit, nil
		}
		w.Args = append(w.Args, x.Val.V)
		if x.Op == "~" {
			return "regexp_full_match(" + col + ", ?)", nil
		}
		return col + " " + x.Op + " ?", nil
	}
	return "", fmt.Errorf("unknown expression %T", e)
}

func (w *SQL) binary(op string, l, r Expr) (string, error) {
	ls, err := w.Where(l)
	if err != nil {
		return "", err
	}
	rs, err := w.Where(r)
	if err != nil {
		return "", err
	}
	return "(" + ls + " " + op + " " + rs + ")", nil
}

// OrderBy renders an order.
func (w *SQL) OrderBy(o *Order) (string, error) {
	col, err := w.column(o.Col)
	if err != nil {
		return "", err
	}
	if o.Desc {
		return col + " DESC", nil
	}
	return col + " ASC", nil
}
