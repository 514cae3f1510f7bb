/* vmbench: every benchmark in one static binary, busybox style. glibc's
 * static startup is ~700 KB per program; sharing it keeps the guest's
 * initramfs (and so its boot time) small. The program is chosen by the name
 * it is called by (/bench/getppid -> vmbench) or by the first argument
 * (vmbench getppid 1000). Each benchmark source is compiled with
 * -Dmain=vmbench_main_<name>; VMBENCH_LIST comes from bench/bench.mk. */
#include <stdio.h>
#include <string.h>

#ifndef VMBENCH_LIST
#error "build with -DVMBENCH_LIST='X(name) ...' (see bench/bench.mk)"
#endif

#define X(n) int vmbench_main_##n(int argc, char **argv);
VMBENCH_LIST
#undef X

static const struct {
    const char *name;
    int (*main)(int argc, char **argv);
} progs[] = {
#define X(n) { #n, vmbench_main_##n },
    VMBENCH_LIST
#undef X
};

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

int main(int argc, char **argv)
{
    const char *name = base_name(argv[0]);
    if (strcmp(name, "vmbench") == 0) {
        if (argc < 2 || strcmp(argv[1], "--list") == 0) {
            for (size_t i = 0; i < sizeof progs / sizeof progs[0]; i++)
                printf("%s\n", progs[i].name);
            return argc < 2 ? 2 : 0;
        }
        argv++;
        argc--;
        name = argv[0];
    }
    for (size_t i = 0; i < sizeof progs / sizeof progs[0]; i++)
        if (strcmp(name, progs[i].name) == 0)
            return progs[i].main(argc, argv);
    fprintf(stderr, "vmbench: no benchmark '%s' (vmbench --list)\n", name);
    return 2;
}
