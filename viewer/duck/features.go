package duck

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/havenhub/haven/viewer"
)

// scalarDtypes maps DuckDB scalar types to `datasets` Value dtypes (Arrow names).
var scalarDtypes = map[string]string{
	"BOOLEAN": "bool", "TINYINT": "int8", "SMALLINT": "int16", "INTEGER": "int32", "BIGINT": "int64",
	"UTINYINT": "uint8", "USMALLINT": "uint16", "UINTEGER": "uint32", "UBIGINT": "uint64",
	"FLOAT": "float32", "DOUBLE": "float64", "VARCHAR": "string", "BLOB": "binary",
	"DATE": "date32", "TIME": "time64[us]", "TIMESTAMP": "timestamp[us]", "TIMESTAMP_S": "timestamp[s]",
	"TIMESTAMP_MS": "timestamp[ms]", "TIMESTAMP_NS": "timestamp[ns]", "TIMESTAMP WITH TIME ZONE": "timestamp[us, tz=UTC]",
	"INTERVAL": "duration[us]", "UUID": "string", "HUGEINT": "string", "UHUGEINT": "string", "JSON": "string",
	"\"NULL\"": "null", "NULL": "null",
}

var decimalRE = regexp.MustCompile(`^DECIMAL\((\d+),\s*(\d+)\)$`)

// Feature converts a DuckDB type (as DESCRIBE prints it) to the `datasets`
// feature JSON: Value for scalars, List for lists (with "length" for
// fixed-size arrays), a plain object for structs.
func Feature(duckType string) json.RawMessage {
	b, _ := json.Marshal(feature(strings.TrimSpace(duckType)))
	return b
}

func value(dtype string) viewer.Object { return viewer.Obj("dtype", dtype, "_type", "Value") }

func feature(t string) any {
	if dt, ok := scalarDtypes[t]; ok {
		return value(dt)
	}
	if m := decimalRE.FindStringSubmatch(t); m != nil {
		return value(fmt.Sprintf("decimal128(%s, %s)", m[1], m[2]))
	}
	if strings.HasSuffix(t, "[]") {
		return viewer.Obj("feature", feature(t[:len(t)-2]), "_type", "List")
	}
	if strings.HasSuffix(t, "]") {
		if i := strings.LastIndexByte(t, '['); i > 0 {
			var n int
			if _, err := fmt.Sscanf(t[i+1:len(t)-1], "%d", &n); err == nil {
				return viewer.Obj("feature", feature(t[:i]), "length", n, "_type", "List")
			}
		}
	}
	if strings.HasPrefix(t, "STRUCT(") && strings.HasSuffix(t, ")") {
		fields := splitTop(t[len("STRUCT(") : len(t)-1])
		obj := viewer.Obj()
		for _, f := range fields {
			name, typ := splitField(f)
			obj.Add(name, feature(typ))
		}
		return obj
	}
	if strings.HasPrefix(t, "MAP(") && strings.HasSuffix(t, ")") {
		parts := splitTop(t[len("MAP(") : len(t)-1])
		if len(parts) == 2 {
			return viewer.Obj("feature", viewer.Obj("key", feature(parts[0]), "value", feature(parts[1])), "_type", "List")
		}
	}
	if strings.HasPrefix(t, "ENUM(") {
		return value("string")
	}
	return value("string")
}

// splitTop splits s on commas that are not nested in parentheses or quotes.
func splitTop(s string) []string {
	var out []string
	depth, start := 0, 0
	inQuote := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			inQuote = !inQuote
		case inQuote:
		case c == '(' || c == '[':
			depth++
		case c == ')' || c == ']':
			depth--
		case c == ',' && depth == 0:
			out = append(out, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	if rest := strings.TrimSpace(s[start:]); rest != "" {
		out = append(out, rest)
	}
	return out
}

// splitField splits `name TYPE` or `"quoted name" TYPE`.
func splitField(f string) (string, string) {
	if strings.HasPrefix(f, `"`) {
		for i := 1; i < len(f); i++ {
			if f[i] == '"' {
				if i+1 < len(f) && f[i+1] == '"' {
					i++
					continue
				}
				return strings.ReplaceAll(f[1:i], `""`, `"`), strings.TrimSpace(f[i+1:])
			}
		}
	}
	name, typ, _ := strings.Cut(f, " ")
	return name, strings.TrimSpace(typ)
}
