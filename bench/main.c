/* edgetls-bench: load generator and micro-benchmarks, one subcommand per job (the
 * wireguard-tools layout: a table of name -> function, each parsing its own options). */
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "hs/hs.h"

typedef struct subcommand {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *desc;
} subcommand_t;

static const subcommand_t subcommands[] = {
    {"crypto", etls_bench_crypto_main, "crypto micro-benchmarks against OpenSSL in the same run"},
    {"hs", etls_bench_hs_main, "TLS 1.3 handshake load (closed or open loop), latency, errors"},
    {"record", etls_bench_record_main, "bulk TLS record throughput per direction (GB/s)"},
    {"certs", etls_bench_certs_main, "write N certificates under one CA (+ edgetlsctl batch and SNI files)"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: edgetls-bench <subcommand> [options]\n\nsubcommands:\n");
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
        fprintf(f, "  %-10s %s\n", subcommands[i].name, subcommands[i].desc);
    fprintf(f, "\n'edgetls-bench <subcommand> --help' describes its options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return ETLS_BENCH_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
        if (!strcmp(argv[1], subcommands[i].name))
            return subcommands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "edgetls-bench: unknown subcommand '%s'\n", argv[1]);
    usage(stderr);
    return ETLS_BENCH_EXIT_USAGE;
}
