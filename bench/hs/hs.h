/* Entry points of the load subcommands in bench/hs/ (table in bench/main.c). */
#ifndef ETLS_BENCH_HS_HS_H
#define ETLS_BENCH_HS_HS_H

#include "../bench.h"

/* `edgetls-bench hs HOST:PORT [options]`: handshake load (hs_main.c). */
int etls_bench_hs_main(int argc, char **argv);
/* `edgetls-bench record HOST:PORT [options]`: bulk record throughput (record.c). */
int etls_bench_record_main(int argc, char **argv);

#endif
