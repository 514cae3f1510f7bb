/* Helpers shared by both runners and the generator: the code page image,
 * data buffer contents and names for categories and vectors. */
#include <string.h>

#include "difftest.h"

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Mostly random bytes, with some runs of zeros and ones so that compares
 * and string scans find matches. */
void dt_fill_data(uint64_t seed, uint8_t *buf)
{
	uint64_t s = seed;
	for (uint32_t i = 0; i < DT_DATA_SIZE; i += 8) {
		uint64_t v = splitmix(&s);
		memcpy(buf + i, &v, 8);
	}
	uint64_t k = splitmix(&s);
	for (int r = 0; r < 8; r++) {
		uint32_t off = (uint32_t)(splitmix(&s) % DT_DATA_SIZE);
		uint32_t len = (uint32_t)(k >> (r * 8)) & 0x3f;
		if (off + len > DT_DATA_SIZE)
			len = DT_DATA_SIZE - off;
		memset(buf + off, (r & 1) ? 0xff : 0, len);
	}
}

void dt_code_page(const struct dt_case *c, uint8_t *page)
{
	memset(page, DT_TRAILER, DT_CODE_SIZE);
	memcpy(page + c->code_off, c->code, c->code_len);
}

uint64_t dt_case_end(const struct dt_case *c)
{
	return DT_CODE_VA + c->code_off + c->code_len + 1;
}

static const char *const cat_names[CAT_COUNT] = {
	"alu", "shift", "muldiv", "bit", "mov", "stack", "string", "branch",
	"sse", "avx", "mem", "mixed", "group", "loop", "curated",
};

const char *dt_cat_name(enum dt_cat c)
{
	return (unsigned)c < CAT_COUNT ? cat_names[c] : "?";
}

int dt_cat_parse(const char *s)
{
	for (int i = 0; i < CAT_COUNT; i++)
		if (!strcmp(s, cat_names[i]))
			return i;
	return -1;
}

const char *dt_vector_name(int v)
{
	static const char *const n[32] = {
		"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#09",
		"#TS", "#NP", "#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM",
		"#VE", "#CP", "#22", "#23", "#24", "#25", "#26", "#27", "#28", "#29",
		"#SX", "#31",
	};
	return v >= 0 && v < 32 ? n[v] : "#??";
}

bool dt_vector_has_error(int v)
{
	return v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21 || v == 29 || v == 30;
}
