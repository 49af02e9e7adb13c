// wafermon_sidecar._eventcheck: says "every event of this NDJSON body is valid" without building a
// Python object per event.
//
// simdjson (Debian's libsimdjson) parses each line; a compiled description of the schema's model,
// derived in Python from wafermon_schema.model (wafermon_sidecar/validation/native.py), is then
// walked over the document. The answer is one of two: the number of events, when every line is one
// event the authority (wafermon_schema.check_batch) accepts, or -1, "not sure". On -1 the body goes
// to the authority, which names each bad event. So anything this code does not cover exactly
// (duplicate keys, surrogate escapes, control bytes, a float where an int belongs, deep metadata,
// ...) answers -1 rather than guessing: it may only ever accept less than the authority, never
// more.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

constexpr int kMaxMetadataDepth = 64; // far below what msgspec's recursion allows
constexpr size_t kMaxFields = 64;     // a struct's seen-fields set is one 64-bit mask
constexpr size_t kMaxFactCodes = size_t{1} << 20;

enum class Kind { Struct, Str, Enum, Int, Float, Object };

struct Node;

struct Field {
    std::string name;
    const Node *node = nullptr;
    bool required = false;
    bool nullable = false;
};

struct Node {
    Kind kind = Kind::Object;
    std::vector<Field> fields;        // Struct
    long min_len = -1, max_len = -1;  // Str, in code points as Python's len() counts them
    std::string table, unit;          // Str: fixed-width pattern, table[byte] must equal unit[i]
    std::vector<std::string> values;  // Enum (Literal strings)
    int64_t int_min = 0, int_max = 0; // Int
    double lo = 0, hi = 0;            // Float
    bool lo_inclusive = true, hi_inclusive = true;
};

// A fact of a top-level field that the cross-field rules read, in the order of the allowed codes.
enum class FactKind { EnumValue, IsAbsent, IsNull };
struct DomainValue {
    enum { Value, Null, Absent } kind;
    std::string value;
};
struct Fact {
    FactKind kind;
    size_t field;                    // index into the root struct's fields
    std::vector<DomainValue> domain; // EnumValue: the radix is its size
};

// wafermon_schema/rules.py, the rules beyond the model: which root fields they read, and their
// bounds.
struct Rules {
    long at_field = -1; // the event's time: a real UTC time from min_year, at most latest_at
    long min_year = 0;
    long metadata_field = -1; // the object holding the heartbeat setting
    std::string heartbeat_flat, heartbeat_outer, heartbeat_inner;
    double max_heartbeat = 0;
};

struct Checker {
    std::vector<std::unique_ptr<Node>> nodes; // owns every node; nodes[0] is the root (the event)
    std::vector<Fact> facts;
    std::vector<bool> allowed; // indexed by the mixed-radix code of an event's facts
    size_t max_event_bytes = 0;
    Rules rules;
};

// ---- the walk ---------------------------------------------------------------------------------

long code_points(std::string_view s) {
    long n = 0;
    for (unsigned char c : s)
        n += (c & 0xC0) != 0x80;
    return n;
}

bool check_value(const Node &node, element value);

bool check_any(element value, int depth) {
    switch (value.type()) {
    case element_type::OBJECT: {
        simdjson::dom::object object;
        if (depth >= kMaxMetadataDepth || value.get_object().get(object))
            return false;
        for (auto pair : object)
            if (!check_any(pair.value, depth + 1))
                return false;
        return true;
    }
    case element_type::ARRAY: {
        simdjson::dom::array array;
        if (depth >= kMaxMetadataDepth || value.get_array().get(array))
            return false;
        for (element item : array)
            if (!check_any(item, depth + 1))
                return false;
        return true;
    }
    case element_type::DOUBLE:
        return std::isfinite(value.get_double().value_unsafe());
    default: // strings (UTF-8 already validated by the parser), integers, booleans, null
        return true;
    }
}

bool check_str(const Node &node, std::string_view s) {
    if (!node.unit.empty()) {
        if (s.size() != node.unit.size())
            return false;
        for (size_t i = 0; i < s.size(); ++i)
            if (node.table[static_cast<unsigned char>(s[i])] != node.unit[i])
                return false;
    }
    if (node.min_len >= 0 || node.max_len >= 0) {
        long n = code_points(s);
        if (node.min_len >= 0 && n < node.min_len)
            return false;
        if (node.max_len >= 0 && n > node.max_len)
            return false;
    }
    return true;
}

// Finds a field by name: structs here have a handful of fields, a scan beats hashing.
// Encoders write the fields in the model's order, so the search starts where the last one matched.
long field_index(const Node &node, std::string_view key, size_t hint = 0) {
    size_t count = node.fields.size();
    for (size_t k = 0; k < count; ++k) {
        size_t i = hint + k < count ? hint + k : hint + k - count;
        const std::string &name = node.fields[i].name;
        if (name.size() == key.size() && memcmp(name.data(), key.data(), key.size()) == 0)
            return static_cast<long>(i);
    }
    return -1;
}

// Walks an object against a struct node; `seen_values` (the root only) receives each field's value.
bool check_struct(const Node &node, element value, element *seen_values, uint64_t *seen_mask) {
    simdjson::dom::object object;
    if (value.get_object().get(object))
        return false;
    uint64_t seen = 0;
    size_t hint = 0;
    for (auto pair : object) {
        long i = field_index(node, pair.key, hint);
        if (i < 0)
            return false; // unknown field (the model forbids them)
        hint = static_cast<size_t>(i) + 1 < node.fields.size() ? static_cast<size_t>(i) + 1 : 0;
        uint64_t bit = uint64_t{1} << i;
        if (seen & bit)
            return false; // a duplicate key: msgspec keeps the last one; not sure
        seen |= bit;
        const Field &field = node.fields[static_cast<size_t>(i)];
        if (pair.value.is_null()) {
            if (!field.nullable)
                return false;
        } else if (!check_value(*field.node, pair.value)) {
            return false;
        }
        if (seen_values != nullptr)
            seen_values[i] = pair.value;
    }
    for (size_t i = 0; i < node.fields.size(); ++i)
        if (node.fields[i].required && !(seen & (uint64_t{1} << i)))
            return false;
    if (seen_mask != nullptr)
        *seen_mask = seen;
    return true;
}

bool check_value(const Node &node, element value) {
    switch (node.kind) {
    case Kind::Struct:
        return check_struct(node, value, nullptr, nullptr);
    case Kind::Str: {
        std::string_view s;
        return !value.get_string().get(s) && check_str(node, s);
    }
    case Kind::Enum: {
        std::string_view s;
        if (value.get_string().get(s))
            return false;
        for (const auto &v : node.values)
            if (v == s)
                return true;
        return false;
    }
    case Kind::Int: // a float, even 3.0, is left to the authority (it makes it an int)
        if (value.type() == element_type::INT64) {
            int64_t v = value.get_int64().value_unsafe();
            return v >= node.int_min && v <= node.int_max;
        }
        if (value.type() == element_type::UINT64) {
            uint64_t v = value.get_uint64().value_unsafe();
            return node.int_max >= 0 && v <= static_cast<uint64_t>(node.int_max);
        }
        return false;
    case Kind::Float: {
        double v;
        if (value.type() == element_type::DOUBLE) {
            v = value.get_double().value_unsafe();
        } else if (value.type() == element_type::INT64) {
            v = static_cast<double>(value.get_int64().value_unsafe());
        } else if (value.type() == element_type::UINT64) {
            v = static_cast<double>(value.get_uint64().value_unsafe());
        } else {
            return false;
        }
        if (!std::isfinite(v))
            return false;
        if (node.lo_inclusive ? v < node.lo : v <= node.lo)
            return false;
        if (node.hi_inclusive ? v > node.hi : v >= node.hi)
            return false;
        return true;
    }
    case Kind::Object:
        return value.is_object() && check_any(value, 0);
    }
    return false;
}

// The mixed-radix code of an event's facts, or SIZE_MAX when a value is outside a fact's domain.
size_t fact_code(const Checker &checker, const element *values, uint64_t seen) {
    size_t code = 0;
    for (const Fact &fact : checker.facts) {
        bool present = (seen >> fact.field) & 1;
        bool null = present && values[fact.field].is_null();
        switch (fact.kind) {
        case FactKind::IsAbsent:
            code = code * 2 + !present;
            break;
        case FactKind::IsNull:
            code = code * 2 + null;
            break;
        case FactKind::EnumValue: {
            std::string_view s;
            if (present && !null && values[fact.field].get_string().get(s))
                return SIZE_MAX;
            size_t index = 0;
            for (; index < fact.domain.size(); ++index) {
                const DomainValue &d = fact.domain[index];
                if (!present ? d.kind == DomainValue::Absent
                    : null   ? d.kind == DomainValue::Null
                             : d.kind == DomainValue::Value && d.value == s)
                    break;
            }
            if (index == fact.domain.size())
                return SIZE_MAX;
            code = code * fact.domain.size() + index;
            break;
        }
        }
    }
    return code;
}

int hex4(const char *p) {
    int v = 0;
    for (int i = 0; i < 4; ++i) {
        char c = p[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

// What the raw text must not hold for this walk to vouch for it: a \uD800-\uDFFF escape that is
// not half of a high+low pair (msgspec refuses those; simdjson would not), or \u0000 (rules.py).
// Raw control bytes in a string simdjson refuses itself (UNESCAPED_CHARS).
bool escapes_are_plain(const char *p, size_t n) {
    for (size_t at = 0; at < n;) {
        const char *q = static_cast<const char *>(memchr(p + at, '\\', n - at));
        if (q == nullptr)
            break;
        at = static_cast<size_t>(q - p);
        if (at + 1 < n && q[1] != 'u') {
            at += 2; // a one-character escape, \\ included
            continue;
        }
        if (at + 6 > n)
            return false;
        int unit = hex4(q + 2);
        if (unit <= 0 || (unit >= 0xDC00 && unit <= 0xDFFF))
            return false; // (0: NUL, which the rules refuse)
        if (unit >= 0xD800 && unit <= 0xDBFF) {
            int second = at + 12 <= n && q[6] == '\\' && q[7] == 'u' ? hex4(q + 8) : -1;
            if (second < 0xDC00 || second > 0xDFFF)
                return false;
            at += 12;
        } else {
            at += 6;
        }
    }
    return true;
}

int digits(std::string_view s, size_t at, size_t n) {
    int v = 0;
    for (size_t i = at; i < at + n; ++i)
        v = v * 10 + (s[i] - '0');
    return v;
}

// rules.py's at_problem and future_problem on a pattern-checked YYYY-MM-DDTHH:MM:SS.ffffffZ.
bool at_is_real(const Rules &rules, std::string_view at, std::string_view latest_at) {
    if (at.size() != 27)
        return false;
    int year = digits(at, 0, 4), month = digits(at, 5, 2), day = digits(at, 8, 2);
    if (year < rules.min_year || month < 1 || month > 12 || day < 1)
        return false;
    static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    if (day > kDays[month - 1] + (month == 2 && leap))
        return false;
    if (digits(at, 11, 2) > 23 || digits(at, 14, 2) > 59 || digits(at, 17, 2) > 59)
        return false;
    return latest_at.empty() || at <= latest_at;
}

// rules.py's heartbeat_problem on one value: null, or a number (not a boolean) in (0, max].
bool heartbeat_ok(const Rules &rules, element value) {
    double v;
    switch (value.type()) {
    case element_type::NULL_VALUE:
        return true;
    case element_type::INT64:
        v = static_cast<double>(value.get_int64().value_unsafe());
        break;
    case element_type::UINT64:
        v = static_cast<double>(value.get_uint64().value_unsafe());
        break;
    case element_type::DOUBLE:
        v = value.get_double().value_unsafe();
        break;
    default:
        return false;
    }
    return v > 0 && v <= rules.max_heartbeat;
}

// Every occurrence of the flat key and of outer.inner is checked (a duplicate key too: not sure).
bool metadata_ok(const Rules &rules, element metadata) {
    simdjson::dom::object object;
    if (metadata.get_object().get(object))
        return false;
    for (auto pair : object) {
        if (pair.key == rules.heartbeat_flat && !heartbeat_ok(rules, pair.value))
            return false;
        simdjson::dom::object nested;
        if (pair.key == rules.heartbeat_outer && !pair.value.get_object().get(nested)) {
            for (auto inner : nested)
                if (inner.key == rules.heartbeat_inner && !heartbeat_ok(rules, inner.value))
                    return false;
        }
    }
    return true;
}

// rules.py's number rule, conservatively: a number token (it starts at a structural position) of
// 1000 bytes or more, or with a negative exponent of 4 digits or more, may need more fraction
// digits than a store holds, so the answer is "not sure".
bool numbers_are_short(const char *text, size_t n, const uint32_t *index, uint32_t count) {
    for (uint32_t k = 0; k < count && index[k] < n; ++k) {
        char c = text[index[k]];
        if (c != '-' && (c < '0' || c > '9'))
            continue;
        size_t end = k + 1 < count && index[k + 1] < n ? index[k + 1] : n;
        if (end - index[k] >= 1000)
            return false;
        for (size_t i = index[k]; i + 1 < end; ++i) {
            if ((text[i] == 'e' || text[i] == 'E') && text[i + 1] == '-') {
                size_t run = 0;
                while (i + 2 + run < end && text[i + 2 + run] >= '0' && text[i + 2 + run] <= '9')
                    ++run;
                if (run >= 4)
                    return false;
            }
        }
    }
    return true;
}

// One parsed event: valid by the model, the cross-field table and the rules?
bool element_is_valid(const Checker &checker, element doc, std::string_view latest_at) {
    thread_local std::vector<element> values;
    const Node &root = *checker.nodes[0];
    values.resize(root.fields.size());
    uint64_t seen = 0;
    if (!check_struct(root, doc, values.data(), &seen))
        return false;
    size_t code = fact_code(checker, values.data(), seen);
    if (code >= checker.allowed.size() || !checker.allowed[code])
        return false;
    const Rules &rules = checker.rules;
    if (rules.at_field >= 0) {
        std::string_view at;
        if (!((seen >> rules.at_field) & 1) || values[rules.at_field].get_string().get(at) ||
            !at_is_real(rules, at, latest_at))
            return false;
    }
    if (rules.metadata_field >= 0 && ((seen >> rules.metadata_field) & 1) &&
        !metadata_ok(rules, values[rules.metadata_field]))
        return false;
    return true;
}

// What an event's text must be before it is parsed: within the size limit, an object, and no
// surrogate escape msgspec would refuse. (NDJSON lines hold no newline by construction and a body
// with a CR is refused whole; array items are checked for both by the array path.)
bool text_is_plain(const Checker &checker, const char *text, size_t len) {
    return len > 0 && len <= checker.max_event_bytes && text[0] == '{' &&
           escapes_are_plain(text, len);
}

bool on_one_line(const char *text, size_t len) {
    return memchr(text, '\n', len) == nullptr && memchr(text, '\r', len) == nullptr;
}

// The structural positions simdjson's first stage recorded for the last parse (numbers start at
// one).
// (`parser.implementation->structural_indexes` is public in simdjson 3.0.1 but documented as
// internal.)
bool parsed_numbers_are_short(const simdjson::dom::parser &parser, const char *text, size_t n) {
    return numbers_are_short(text, n, parser.implementation->structural_indexes.get(),
                             parser.implementation->n_structural_indexes);
}

// One event's text (inside a buffer with simdjson's padding after it).
bool event_is_valid(const Checker &checker, const char *text, size_t len,
                    std::string_view latest_at) {
    thread_local simdjson::dom::parser parser;
    element doc;
    return text_is_plain(checker, text, len) && !parser.parse(text, len, false).get(doc) &&
           parsed_numbers_are_short(parser, text, len) && element_is_valid(checker, doc, latest_at);
}

// Memory this module keeps per thread between calls is bounded: a body's padded copy is kept for
// the next call only up to this size, and the array path (whose parser allocates about 13 bytes
// per byte of input, kept for the next call) takes arrays up to it; larger ones go to Python.
constexpr size_t kKeptBytes = size_t{1} << 20;

// The body in a buffer padded as simdjson needs: this thread's buffer, or `large` above kKeptBytes.
const char *padded_copy(const char *body, size_t n, std::vector<char> &large) {
    thread_local std::vector<char> kept;
    std::vector<char> &padded = n <= kKeptBytes ? kept : large;
    padded.resize(n + simdjson::SIMDJSON_PADDING);
    memcpy(padded.data(), body, n);
    return padded.data();
}

// latest_at: the latest `at` accepted now (rules.py latest_at), or empty for no clock rule.
long count_valid_ndjson(const Checker &checker, const char *body, size_t n,
                        std::string_view latest_at = {}) {
    if (n == 0 || memchr(body, '\r', n) != nullptr)
        return -1; // CR LF lines are re-encoded in Python
    std::vector<char> large;
    const char *text = padded_copy(body, n, large);
    long events = 0;
    for (size_t start = 0; start <= n; ++events) {
        const char *line = text + start;
        const char *end = static_cast<const char *>(memchr(line, '\n', n - start));
        size_t len = end != nullptr ? static_cast<size_t>(end - line) : n - start;
        if (!event_is_valid(checker, line, len, latest_at))
            return -1;
        start += len + 1;
    }
    return events;
}

// A JSON array of events: the count, with the events' own texts joined by newlines in `ndjson`
// (what the spool stores), or -1. The array is parsed once; each item's text is found from the
// structural positions simdjson's first stage recorded (the '{' and '}' at depth 1), which are
// never inside a string, so finding them reads a few positions per event rather than every byte.
// (`parser.implementation->structural_indexes` is public in simdjson 3.0.1 but documented as
// internal; should it change meaning, a count or brace that does not match answers -1.)
long count_valid_array(const Checker &checker, const char *body, size_t n, std::string &ndjson,
                       std::string_view latest_at = {}) {
    thread_local simdjson::dom::parser parser;
    thread_local std::vector<std::pair<size_t, size_t>> spans;
    std::vector<char> unused;
    if (n > kKeptBytes)
        return -1;
    const char *text = padded_copy(body, n, unused);
    element doc;
    simdjson::dom::array array;
    if (parser.parse(text, n, false).get(doc) || doc.get_array().get(array) || array.size() == 0)
        return -1; // (an empty array is left to Python)
    const uint32_t *index = parser.implementation->structural_indexes.get();
    uint32_t structurals = parser.implementation->n_structural_indexes;
    spans.clear();
    size_t depth = 0, start = 0;
    for (uint32_t k = 0; k < structurals && index[k] < n; ++k) {
        char c = text[index[k]];
        if (c == '{' || c == '[') {
            start = depth == 1 ? index[k] : start;
            ++depth;
        } else if ((c == '}' || c == ']') && --depth == 1) {
            spans.emplace_back(start, index[k] + 1);
        }
    }
    if (spans.size() != array.size())
        return -1; // an item that is not an object or array
    if (!numbers_are_short(text, n, index, structurals))
        return -1;
    size_t i = 0;
    for (element item : array) {
        auto [from, to] = spans[i++];
        // The span must be the object the parser saw: '{' ... '}' (text_is_plain checks the '{').
        if (text[to - 1] != '}' || !on_one_line(text + from, to - from) ||
            !text_is_plain(checker, text + from, to - from) ||
            !element_is_valid(checker, item, latest_at))
            return -1;
        if (i > 1)
            ndjson.push_back('\n');
        ndjson.append(text + from, to - from);
    }
    return static_cast<long>(i);
}

// ---- building a Checker from the Python description (validation/native.py) -------------------

[[noreturn]] void fail(const std::string &what) {
    throw std::invalid_argument(what);
}

std::string as_string(PyObject *o, const char *what) {
    Py_ssize_t size;
    const char *data;
    if (PyUnicode_Check(o)) {
        data = PyUnicode_AsUTF8AndSize(o, &size);
    } else if (PyBytes_Check(o)) {
        data = PyBytes_AS_STRING(o);
        size = PyBytes_GET_SIZE(o);
    } else {
        fail(std::string(what) + " must be str or bytes");
    }
    if (data == nullptr) {
        PyErr_Clear();
        fail(std::string(what) + " is not encodable");
    }
    return std::string(data, static_cast<size_t>(size));
}

long long as_long(PyObject *o, const char *what) {
    long long v = PyLong_AsLongLong(o);
    if (v == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        fail(std::string(what) + " must be an integer within 64 bits");
    }
    return v;
}

PyObject *item(PyObject *tuple, Py_ssize_t i, const char *what) {
    if (!PyTuple_Check(tuple) || PyTuple_GET_SIZE(tuple) <= i)
        fail(std::string("a short tuple: ") + what);
    return PyTuple_GET_ITEM(tuple, i);
}

const Node *build_node(Checker &checker, PyObject *spec);

void build_fields(Checker &checker, Node &node, PyObject *fields) {
    PyObject *seq = PySequence_Fast(fields, "struct fields must be a sequence");
    if (seq == nullptr) {
        PyErr_Clear();
        fail("struct fields must be a sequence");
    }
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq);
    if (static_cast<size_t>(count) > kMaxFields) {
        Py_DECREF(seq);
        fail("a struct has more than 64 fields");
    }
    try {
        for (Py_ssize_t i = 0; i < count; ++i) {
            PyObject *f = PySequence_Fast_GET_ITEM(seq, i);
            Field field;
            field.name = as_string(item(f, 0, "field"), "field name");
            field.node = build_node(checker, item(f, 1, "field"));
            field.required = PyObject_IsTrue(item(f, 2, "field")) == 1;
            field.nullable = PyObject_IsTrue(item(f, 3, "field")) == 1;
            node.fields.push_back(std::move(field));
        }
    } catch (...) {
        Py_DECREF(seq);
        throw;
    }
    Py_DECREF(seq);
}

const Node *build_node(Checker &checker, PyObject *spec) {
    std::string kind = as_string(item(spec, 0, "node"), "node kind");
    checker.nodes.push_back(std::make_unique<Node>());
    Node &node = *checker.nodes.back();
    if (kind == "struct") {
        node.kind = Kind::Struct;
        build_fields(checker, node, item(spec, 1, "struct"));
    } else if (kind == "str") {
        node.kind = Kind::Str;
        node.min_len = static_cast<long>(as_long(item(spec, 1, "str"), "min_len"));
        node.max_len = static_cast<long>(as_long(item(spec, 2, "str"), "max_len"));
        PyObject *table = item(spec, 3, "str");
        if (table != Py_None) {
            node.table = as_string(table, "template table");
            node.unit = as_string(item(spec, 4, "str"), "template unit");
            if (node.table.size() != 256 || node.unit.empty())
                fail("a template needs a 256-byte table and a unit");
        }
    } else if (kind == "enum") {
        node.kind = Kind::Enum;
        PyObject *values = item(spec, 1, "enum");
        if (!PyTuple_Check(values))
            fail("enum values must be a tuple");
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(values); ++i)
            node.values.push_back(as_string(PyTuple_GET_ITEM(values, i), "enum value"));
    } else if (kind == "int") {
        node.kind = Kind::Int;
        node.int_min = as_long(item(spec, 1, "int"), "int minimum");
        node.int_max = as_long(item(spec, 2, "int"), "int maximum");
    } else if (kind == "float") {
        node.kind = Kind::Float;
        node.lo = PyFloat_AsDouble(item(spec, 1, "float"));
        node.lo_inclusive = PyObject_IsTrue(item(spec, 2, "float")) == 1;
        node.hi = PyFloat_AsDouble(item(spec, 3, "float"));
        node.hi_inclusive = PyObject_IsTrue(item(spec, 4, "float")) == 1;
        if (PyErr_Occurred()) {
            PyErr_Clear();
            fail("float bounds must be numbers");
        }
    } else if (kind == "object") {
        node.kind = Kind::Object;
    } else {
        fail("unknown node kind " + kind);
    }
    return &node;
}

void build_facts(Checker &checker, PyObject *facts, PyObject *allowed) {
    const Node &root = *checker.nodes[0];
    if (root.kind != Kind::Struct)
        fail("the root must be a struct");
    if (!PyTuple_Check(facts))
        fail("facts must be a tuple");
    size_t codes = 1;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(facts); ++i) {
        PyObject *f = PyTuple_GET_ITEM(facts, i);
        std::string kind = as_string(item(f, 0, "fact"), "fact kind");
        long field = field_index(root, as_string(item(f, 1, "fact"), "fact field"));
        if (field < 0)
            fail("a fact names a field the event does not have");
        Fact fact{FactKind::IsAbsent, static_cast<size_t>(field), {}};
        if (kind == "enum") {
            fact.kind = FactKind::EnumValue;
            PyObject *domain = item(f, 2, "enum fact");
            if (!PyTuple_Check(domain) || PyTuple_GET_SIZE(domain) == 0)
                fail("an enum fact needs a domain");
            for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(domain); ++j) {
                PyObject *d = PyTuple_GET_ITEM(domain, j);
                std::string which = as_string(item(d, 0, "domain value"), "domain kind");
                if (which == "value")
                    fact.domain.push_back({DomainValue::Value,
                                           as_string(item(d, 1, "domain value"), "domain value")});
                else if (which == "null")
                    fact.domain.push_back({DomainValue::Null, {}});
                else if (which == "absent")
                    fact.domain.push_back({DomainValue::Absent, {}});
                else
                    fail("unknown domain kind " + which);
            }
        } else if (kind == "null") {
            fact.kind = FactKind::IsNull;
        } else if (kind != "absent") {
            fail("unknown fact kind " + kind);
        }
        size_t radix = fact.kind == FactKind::EnumValue ? fact.domain.size() : 2;
        if (codes > kMaxFactCodes / radix)
            fail("too many combinations of facts");
        codes *= radix;
        checker.facts.push_back(std::move(fact));
    }
    checker.allowed.assign(codes, false);
    PyObject *iter = PyObject_GetIter(allowed);
    if (iter == nullptr) {
        PyErr_Clear();
        fail("allowed codes must be iterable");
    }
    for (PyObject *code; (code = PyIter_Next(iter)) != nullptr;) {
        long long c = PyLong_AsLongLong(code);
        Py_DECREF(code);
        if (c < 0 || static_cast<size_t>(c) >= codes) {
            PyErr_Clear();
            Py_DECREF(iter);
            fail("an allowed code is out of range");
        }
        checker.allowed[static_cast<size_t>(c)] = true;
    }
    Py_DECREF(iter);
    if (PyErr_Occurred())
        fail("allowed codes could not be read");
}

constexpr const char *kCapsule = "wafermon_sidecar._eventcheck.Checker";

void free_checker(PyObject *capsule) {
    delete static_cast<Checker *>(PyCapsule_GetPointer(capsule, kCapsule));
}

// rules: (at_field, min_year, metadata_field, heartbeat_flat, heartbeat_outer, heartbeat_inner,
// max_heartbeat), as validation/native.py describes rules.py; None (or absent) checks no such rule.
void build_rules(Checker &checker, PyObject *rules) {
    const Node &root = *checker.nodes[0];
    Rules &r = checker.rules;
    r.at_field = field_index(root, as_string(item(rules, 0, "rules"), "at field"));
    r.min_year = static_cast<long>(as_long(item(rules, 1, "rules"), "min year"));
    r.metadata_field = field_index(root, as_string(item(rules, 2, "rules"), "metadata field"));
    r.heartbeat_flat = as_string(item(rules, 3, "rules"), "heartbeat key");
    r.heartbeat_outer = as_string(item(rules, 4, "rules"), "heartbeat outer key");
    r.heartbeat_inner = as_string(item(rules, 5, "rules"), "heartbeat inner key");
    r.max_heartbeat = PyFloat_AsDouble(item(rules, 6, "rules"));
    if (PyErr_Occurred()) {
        PyErr_Clear();
        fail("the heartbeat bound must be a number");
    }
    if (r.at_field < 0 || r.metadata_field < 0)
        fail("the rules name a field the event does not have");
    if (root.fields[static_cast<size_t>(r.at_field)].node->kind != Kind::Str ||
        root.fields[static_cast<size_t>(r.at_field)].node->unit.size() != 27)
        fail("the time field must be a 27-character template");
}

PyObject *compile(PyObject *, PyObject *args) {
    PyObject *spec, *facts, *allowed, *rules = Py_None;
    Py_ssize_t max_event_bytes;
    if (!PyArg_ParseTuple(args, "OOOn|O:compile", &spec, &facts, &allowed, &max_event_bytes,
                          &rules))
        return nullptr;
    if (max_event_bytes <= 0) {
        PyErr_SetString(PyExc_ValueError, "max_event_bytes must be positive");
        return nullptr;
    }
    auto checker = std::make_unique<Checker>();
    checker->max_event_bytes = static_cast<size_t>(max_event_bytes);
    try {
        build_node(*checker, spec);
        build_facts(*checker, facts, allowed);
        if (rules != Py_None)
            build_rules(*checker, rules);
    } catch (const std::invalid_argument &e) {
        PyErr_Format(PyExc_ValueError, "cannot compile the event check: %s", e.what());
        return nullptr;
    } catch (const std::bad_alloc &) {
        return PyErr_NoMemory();
    }
    PyObject *capsule = PyCapsule_New(checker.get(), kCapsule, free_checker);
    if (capsule != nullptr)
        checker.release();
    return capsule;
}

Checker *checker_of(PyObject *capsule) {
    return static_cast<Checker *>(PyCapsule_GetPointer(capsule, kCapsule));
}

// Parses (checker, bytes-like) and runs work(checker, data, size) without the GIL: pure C++ on a
// buffer this call keeps alive, so other threads run meanwhile. False with a Python error set.
template <typename Work> bool run_on_body(PyObject *args, const char *format, Work work) {
    PyObject *capsule;
    Py_buffer body;
    const char *latest = nullptr;
    Py_ssize_t latest_len = 0;
    if (!PyArg_ParseTuple(args, format, &capsule, &body, &latest, &latest_len))
        return false;
    std::string_view latest_at(latest != nullptr ? latest : "", static_cast<size_t>(latest_len));
    Checker *checker = checker_of(capsule);
    bool out_of_memory = false;
    if (checker != nullptr) {
        PyThreadState *state = PyEval_SaveThread();
        try {
            work(*checker, static_cast<const char *>(body.buf), static_cast<size_t>(body.len),
                 latest_at);
        } catch (const std::bad_alloc &) {
            out_of_memory = true;
        }
        PyEval_RestoreThread(state);
    }
    PyBuffer_Release(&body);
    if (out_of_memory)
        PyErr_NoMemory();
    return checker != nullptr && !out_of_memory;
}

PyObject *count_valid(PyObject *, PyObject *args) {
    long events = -1;
    if (!run_on_body(args, "Oy*|z#:count_valid",
                     [&](const Checker &checker, const char *p, size_t n, std::string_view latest) {
                         events = count_valid_ndjson(checker, p, n, latest);
                     }))
        return nullptr;
    return PyLong_FromLong(events);
}

PyObject *count_valid_array(PyObject *, PyObject *args) {
    long events = -1;
    std::string ndjson;
    if (!run_on_body(args, "Oy*|z#:count_valid_array",
                     [&](const Checker &checker, const char *p, size_t n, std::string_view latest) {
                         ndjson.reserve(n);
                         events = count_valid_array(checker, p, n, ndjson, latest);
                     }))
        return nullptr;
    if (events < 0)
        return Py_BuildValue("(lO)", events, Py_None);
    return Py_BuildValue("(ly#)", events, ndjson.data(), static_cast<Py_ssize_t>(ndjson.size()));
}

PyMethodDef methods[] = {
    {"compile", compile, METH_VARARGS,
     "compile(spec, facts, allowed_codes, max_event_bytes, rules=None) -> checker: the model, the "
     "cross-field table and the rules beyond the schema, as validation/native.py describes them."},
    {"count_valid_array", count_valid_array, METH_VARARGS,
     "count_valid_array(checker, json_array, latest_at=None) -> (count, ndjson) when every item is "
     "one valid event (latest_at: the latest `at` accepted now, or None for no clock rule) "
     "(ndjson: the items' own texts, one per line), else (-1, None). Releases the GIL."},
    {"count_valid", count_valid, METH_VARARGS,
     "count_valid(checker, ndjson, latest_at=None) -> int: the number of events when every line is "
     "one valid "
     "event, "
     "else -1 (not sure: ask the authority). Releases the GIL."},
    {nullptr, nullptr, 0, nullptr},
};

PyModuleDef module = {PyModuleDef_HEAD_INIT,
                      "_eventcheck",
                      "Native all-valid check of NDJSON event batches.",
                      -1,
                      methods,
                      nullptr,
                      nullptr,
                      nullptr,
                      nullptr};

} // namespace

PyMODINIT_FUNC PyInit__eventcheck(void) {
    return PyModule_Create(&module);
}
