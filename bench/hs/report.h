/* Output of `edgetls-bench hs`: text summary, JSON object, self-contained HTML page. */
#ifndef ETLS_BENCH_HS_REPORT_H
#define ETLS_BENCH_HS_REPORT_H

#include "load.h"

#include <stdio.h>

void etls_hs_report_text(FILE *f, const etls_hs_opts_t *o, const etls_hs_result_t *r);
/* One JSON object on one line. Latencies in microseconds. */
void etls_hs_report_json(FILE *f, const etls_hs_opts_t *o, const etls_hs_result_t *r);
/* Writes the HTML page to path; 0 or ETLS_ERR_IO. */
int etls_hs_report_html(const char *path, const etls_hs_opts_t *o, const etls_hs_result_t *r);

#endif
