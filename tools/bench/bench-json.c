/*
 * A small JSON reader for reel-bench all and plot: the parts print one
 * JSON object each, and `all` reads their figures back to make its table
 * and charts, as `plot` does from a saved result.  Recursive descent over
 * a NUL-terminated text into a tree of malloc'ed nodes; nesting is bounded,
 * strings are unescaped (\uXXXX into UTF-8), numbers read with strtod.
 */
#include "bench/bench.h"

#define JSON_DEPTH 64

struct parser {
	const char *p;
	char *err;
	size_t errlen;
	int depth;
};

__attribute__((format(printf, 2, 3)))
static struct json *parse_error(struct parser *ps, const char *fmt, ...)
{
	va_list ap;

	if (ps->err[0])
		return NULL;
	va_start(ap, fmt);
	vsnprintf(ps->err, ps->errlen, fmt, ap);
	va_end(ap);
	return NULL;
}

static void skip_space(struct parser *ps)
{
	while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')
		ps->p++;
}

void json_free(struct json *j)
{
	while (j) {
		struct json *next = j->next;
		json_free(j->child);
		free(j->string);
		free(j->key);
		free(j);
		j = next;
	}
}

static int hex4(const char *s, unsigned *ret)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		char c = s[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*ret = v;
	return 0;
}

static size_t put_utf8(char *out, unsigned cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* A string at ps->p (on its opening quote): malloc'ed, unescaped. */
static char *parse_string(struct parser *ps)
{
	const char *s = ps->p + 1;
	size_t n = 0;
	char *out;

	/* Unescaping never makes a string longer than its text. */
	while (s[n] && s[n] != '"')
		n += s[n] == '\\' && s[n + 1] ? 2 : 1;
	if (s[n] != '"')
		return parse_error(ps, "a string does not end"), NULL;
	out = malloc(n + 1);
	if (!out)
		return parse_error(ps, "out of memory"), NULL;
	n = 0;
	while (*s != '"') {
		unsigned cp, lo;
		if ((unsigned char)*s < 0x20) {
			free(out);
			return parse_error(ps, "a control character inside a string"), NULL;
		}
		if (*s != '\\') {
			out[n++] = *s++;
			continue;
		}
		s++;
		switch (*s) {
		case '"': case '\\': case '/': out[n++] = *s; break;
		case 'b': out[n++] = '\b'; break;
		case 'f': out[n++] = '\f'; break;
		case 'n': out[n++] = '\n'; break;
		case 'r': out[n++] = '\r'; break;
		case 't': out[n++] = '\t'; break;
		case 'u':
			if (hex4(s + 1, &cp) < 0)
				goto bad_escape;
			s += 4;
			if (cp >= 0xd800 && cp < 0xdc00 && s[1] == '\\' && s[2] == 'u' &&
			    hex4(s + 3, &lo) == 0 && lo >= 0xdc00 && lo < 0xe000) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				s += 6;
			}
			/* \uXXXX takes 6 characters and gives at most 3 bytes; a pair 12 for 4. */
			n += put_utf8(out + n, cp);
			break;
		default:
			goto bad_escape;
		}
		s++;
	}
	out[n] = 0;
	ps->p = s + 1;
	return out;
bad_escape:
	free(out);
	return parse_error(ps, "a bad escape inside a string"), NULL;
}

static struct json *parse_value(struct parser *ps);

static struct json *new_node(struct parser *ps, enum json_type type)
{
	struct json *j = calloc(1, sizeof(*j));

	if (!j)
		return parse_error(ps, "out of memory");
	j->type = type;
	return j;
}

/* The elements of an array or the members of an object, ps->p on the opening bracket. */
static struct json *parse_container(struct parser *ps, bool object)
{
	struct json *j = new_node(ps, object ? JSON_OBJECT : JSON_ARRAY), **tail;
	char close = object ? '}' : ']';

	if (!j)
		return NULL;
	if (++ps->depth > JSON_DEPTH) {
		json_free(j);
		return parse_error(ps, "nested deeper than %d", JSON_DEPTH);
	}
	tail = &j->child;
	ps->p++;
	skip_space(ps);
	if (*ps->p == close) {
		ps->p++;
		ps->depth--;
		return j;
	}
	for (;;) {
		char *key = NULL;
		struct json *v;

		skip_space(ps);
		if (object) {
			if (*ps->p != '"')
				goto bad;
			key = parse_string(ps);
			if (!key)
				goto bad;
			skip_space(ps);
			if (*ps->p != ':') {
				free(key);
				goto bad;
			}
			ps->p++;
		}
		v = parse_value(ps);
		if (!v) {
			free(key);
			goto bad;
		}
		v->key = key;
		*tail = v;
		tail = &v->next;
		skip_space(ps);
		if (*ps->p == ',') {
			ps->p++;
			continue;
		}
		if (*ps->p == close) {
			ps->p++;
			ps->depth--;
			return j;
		}
		goto bad;
	}
bad:
	json_free(j);
	return parse_error(ps, "unexpected '%.10s' in an %s", *ps->p ? ps->p : "end",
	                   object ? "object" : "array");
}

static struct json *parse_value(struct parser *ps)
{
	struct json *j;
	char *end;

	skip_space(ps);
	switch (*ps->p) {
	case '{':
		return parse_container(ps, true);
	case '[':
		return parse_container(ps, false);
	case '"':
		j = new_node(ps, JSON_STRING);
		if (j && !(j->string = parse_string(ps))) {
			free(j);
			return NULL;
		}
		return j;
	case 't':
	case 'f':
	case 'n':
		if (!strncmp(ps->p, "true", 4) || !strncmp(ps->p, "false", 5)) {
			j = new_node(ps, JSON_BOOL);
			if (j)
				j->boolean = *ps->p == 't';
			ps->p += *ps->p == 't' ? 4 : 5;
			return j;
		}
		if (!strncmp(ps->p, "null", 4)) {
			ps->p += 4;
			return new_node(ps, JSON_NULL);
		}
		break;
	default:
		if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9')) {
			double v = strtod(ps->p, &end);
			if (end == ps->p)
				break;
			ps->p = end;
			j = new_node(ps, JSON_NUMBER);
			if (j)
				j->number = v;
			return j;
		}
		break;
	}
	return parse_error(ps, "unexpected '%.10s'", *ps->p ? ps->p : "end");
}

struct json *json_parse(const char *text, char *err, size_t errlen)
{
	struct parser ps = { text, err, errlen, 0 };
	struct json *j;

	err[0] = 0;
	j = parse_value(&ps);
	if (!j)
		return NULL;
	skip_space(&ps);
	if (*ps.p) {
		json_free(j);
		return parse_error(&ps, "text after the value: '%.10s'", ps.p);
	}
	return j;
}

static const struct json *member(const struct json *j, const char *name, size_t len)
{
	if (!j || j->type != JSON_OBJECT)
		return NULL;
	for (const struct json *c = j->child; c; c = c->next)
		if (c->key && strlen(c->key) == len && !memcmp(c->key, name, len))
			return c;
	return NULL;
}

/* [N] or [NAME=TEXT] at *path (on the '['): the element, *path after the ']'. */
static const struct json *element(const struct json *j, const char **path)
{
	const char *s = *path + 1, *close = strchr(s, ']'), *eq;

	if (!close || !j || j->type != JSON_ARRAY)
		return NULL;
	*path = close + 1;
	eq = memchr(s, '=', (size_t)(close - s));
	if (!eq) {
		char *end;
		unsigned long n = strtoul(s, &end, 10);
		if (end != close)
			return NULL;
		for (const struct json *c = j->child; c; c = c->next)
			if (n-- == 0)
				return c;
		return NULL;
	}
	for (const struct json *c = j->child; c; c = c->next) {
		const struct json *m = member(c, s, (size_t)(eq - s));
		if (m && m->type == JSON_STRING && strlen(m->string) == (size_t)(close - eq - 1) &&
		    !memcmp(m->string, eq + 1, (size_t)(close - eq - 1)))
			return c;
	}
	return NULL;
}

const struct json *json_get(const struct json *root, const char *path)
{
	const struct json *j = root;
	const char *p = path;

	while (j && *p) {
		size_t n = strcspn(p, ".[");
		if (n) {
			j = member(j, p, n);
			p += n;
		}
		while (j && *p == '[')
			j = element(j, &p);
		if (*p == '.')
			p++;
	}
	return j;
}

bool json_number_at(const struct json *root, const char *path, double *ret)
{
	const struct json *j = json_get(root, path);

	if (!j || j->type != JSON_NUMBER)
		return false;
	*ret = j->number;
	return true;
}
