/* pidigits: big-number arithmetic (GMP) on the streaming spigot for pi:
 * the state is a linear fractional transform (num, acc, den); each term k
 * composes it with (k, 4k+2, 0, 2k+1), and a digit is emitted once
 * floor((3*num+acc)/den) == floor((4*num+acc)/den). User-mode heavy: the
 * guest's cost should be close to native for any engine worth having.
 *   pidigits [runs] [digits]     (default 2000 digits; op = one full run) */
#include "bench.h"
#include <gmp.h>

struct ctx {
    unsigned digits;
    uint32_t checksum;
    char first[16];
};

static int compute(struct ctx *c)
{
    mpz_t num, acc, den, t1, t2;
    mpz_inits(num, acc, den, t1, t2, NULL);
    mpz_set_ui(num, 1);
    mpz_set_ui(acc, 0);
    mpz_set_ui(den, 1);
    uint32_t h = 2166136261u; /* FNV-1a over the digit characters */
    unsigned emitted = 0;
    for (unsigned long k = 1; emitted < c->digits; k++) {
        unsigned long k2 = 2 * k + 1;
        mpz_addmul_ui(acc, num, 2);
        mpz_mul_ui(acc, acc, k2);
        mpz_mul_ui(den, den, k2);
        mpz_mul_ui(num, num, k);
        if (mpz_cmp(num, acc) > 0)
            continue;
        /* t1 = (3*num + acc) / den, t2 = (4*num + acc) / den */
        mpz_mul_ui(t2, num, 3);
        mpz_add(t2, t2, acc);
        mpz_tdiv_q(t1, t2, den);
        mpz_add(t2, t2, num);
        mpz_tdiv_q(t2, t2, den);
        if (mpz_cmp(t1, t2) != 0)
            continue;
        unsigned long d = mpz_get_ui(t1);
        if (emitted < sizeof c->first - 1)
            c->first[emitted] = (char)('0' + d);
        h = (h ^ (uint32_t)('0' + d)) * 16777619u;
        emitted++;
        mpz_submul_ui(acc, den, d);
        mpz_mul_ui(acc, acc, 10);
        mpz_mul_ui(num, num, 10);
    }
    c->checksum = h;
    mpz_clears(num, acc, den, t1, t2, NULL);
    return 0;
}

static int body(uint64_t iters, void *vctx)
{
    for (uint64_t i = 0; i < iters; i++)
        compute(vctx);
    return 0;
}

int main(int argc, char **argv)
{
    uint64_t iters, ns;
    int a = bench_parse_iters(argc, argv, &iters);
    static struct ctx c = { .digits = 2000 };
    if (a < argc && atol(argv[a]) > 0)
        c.digits = (unsigned)atol(argv[a]);
    if (bench_measure("pidigits", body, &c, &iters, 1, &ns) < 0)
        return 1;
    char extra[128];
    snprintf(extra, sizeof extra, "digits=%u first=%s checksum=%08x", c.digits,
             c.first, (unsigned)c.checksum);
    bench_report("pidigits", iters, ns, extra);
    return 0;
}
