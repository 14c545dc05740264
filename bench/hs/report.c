/* Reports for `edgetls-bench hs`: the text summary, one JSON object, and a self-contained HTML
 * page with inline SVG (handshakes/s over time, latency distribution). No external resources:
 * the page must open from a file on an offline machine. */
#include "report.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const double pcts[] = {50, 90, 99, 99.9};
static const char *const pct_names[] = {"p50", "p90", "p99", "p99_9"};

static double rate_of(const etls_hs_result_t *r)
{
    return r->elapsed_s > 0 ? (double)r->in_window / r->elapsed_s : 0;
}

static double cpu_pct(const etls_hs_opts_t *o, const etls_hs_result_t *r)
{
    double wall = r->elapsed_s > 0 ? r->elapsed_s : 1;
    return 100.0 * (r->cpu_user_s + r->cpu_sys_s) / (wall * o->threads);
}

static void lat_line(FILE *f, const char *what, const etls_hist_t *h)
{
    fprintf(f, "%-10s", what);
    for (size_t i = 0; i < 4; i++)
        fprintf(f, " %s %.3f", pct_names[i], etls_hist_percentile(h, pcts[i]) / 1e6);
    fprintf(f, " max %.3f mean %.3f (ms)\n", h->max / 1e6 * (h->count > 0), etls_hist_mean(h) / 1e6);
}

void etls_hs_report_text(FILE *f, const etls_hs_opts_t *o, const etls_hs_result_t *r)
{
    fprintf(f, "target     %s  %s loop (%s %g)  threads %u  group %s  suite %s%s\n", o->target,
            o->rate > 0 ? "open" : "closed", o->rate > 0 ? "rate" : "concurrency",
            o->rate > 0 ? o->rate : (double)o->concurrency, o->threads,
            o->cli.group == ETLS_TLS_GROUP_X25519 ? "x25519" : "p256", etls_cli_suite_name(r->suite),
            o->cli.tls12 ? "  TLSv1.2" : "");
    fprintf(f, "handshakes %llu in %.3f s: %.1f handshakes/s (started %llu, completed %llu%s)\n",
            (unsigned long long)r->handshakes, r->elapsed_s, rate_of(r),
            (unsigned long long)r->started, (unsigned long long)r->completed,
            o->request ? " with response" : "");
    if (o->resume)
        fprintf(f, "resumed    %llu of %llu handshakes used a session ticket\n",
                (unsigned long long)r->resumed, (unsigned long long)r->handshakes);
    lat_line(f, "handshake", &r->hs_lat);
    if (o->request)
        lat_line(f, "response", &r->resp_lat);
    fprintf(f, "errors     %llu", (unsigned long long)r->errors);
    for (int k = 0; k < ETLS_HS_ERR_KINDS; k++)
        if (r->err[k])
            fprintf(f, "  %s %llu", etls_hs_err_name((etls_hs_err_t)k), (unsigned long long)r->err[k]);
    for (int a = 0; a < 256; a++)
        if (r->alerts[a])
            fprintf(f, "  alert%d %llu", a, (unsigned long long)r->alerts[a]);
    if (r->late)
        fprintf(f, "  (late starts %llu)", (unsigned long long)r->late);
    if (r->abandoned)
        fprintf(f, "  (abandoned at end %llu)", (unsigned long long)r->abandoned);
    fputc('\n', f);
    double cpu = r->cpu_user_s + r->cpu_sys_s;
    fprintf(f, "bench cpu  user %.3f s sys %.3f s: %.2f us/handshake, %.1f%% of %u core%s\n",
            r->cpu_user_s, r->cpu_sys_s, r->handshakes ? cpu * 1e6 / (double)r->handshakes : 0,
            cpu_pct(o, r), o->threads, o->threads > 1 ? "s" : "");
}

static void json_hist(FILE *f, const char *name, const etls_hist_t *h)
{
    fprintf(f, "\"%s\":{\"count\":%llu", name, (unsigned long long)h->count);
    for (size_t i = 0; i < 4; i++)
        fprintf(f, ",\"%s\":%.1f", pct_names[i], etls_hist_percentile(h, pcts[i]) / 1e3);
    fprintf(f, ",\"max\":%.1f,\"mean\":%.1f}", h->count ? h->max / 1e3 : 0, etls_hist_mean(h) / 1e3);
}

void etls_hs_report_json(FILE *f, const etls_hs_opts_t *o, const etls_hs_result_t *r)
{
    double cpu = r->cpu_user_s + r->cpu_sys_s;
    fprintf(f, "{\"tool\":\"edgetls-bench hs\",\"target\":\"%s\",\"model\":\"%s\",", o->target,
            o->rate > 0 ? "open" : "closed");
    fprintf(f, "\"concurrency\":%u,\"rate\":%g,\"threads\":%u,\"group\":\"%s\",\"suite\":\"%s\",",
            o->concurrency, o->rate, o->threads,
            o->cli.group == ETLS_TLS_GROUP_X25519 ? "x25519" : "p256", etls_cli_suite_name(r->suite));
    fprintf(f, "\"version\":\"%s\",", o->cli.tls12 ? "TLSv1.2" : "TLSv1.3");
    fprintf(f, "\"request\":%s,\"reuse_keyshare\":%s,\"verify\":%s,\"resume\":%s,\"resumed\":%llu,",
            o->request ? "true" : "false", o->reuse_keyshare ? "true" : "false",
            o->cli.verify_chain ? "true" : "false", o->resume ? "true" : "false",
            (unsigned long long)r->resumed);
    fprintf(f, "\"elapsed_s\":%.6f,\"started\":%llu,\"handshakes\":%llu,\"completed\":%llu,"
               "\"handshakes_per_s\":%.1f,",
            r->elapsed_s, (unsigned long long)r->started, (unsigned long long)r->handshakes,
            (unsigned long long)r->completed, rate_of(r));
    fprintf(f, "\"latency_us\":{");
    json_hist(f, "handshake", &r->hs_lat);
    if (o->request) {
        fputc(',', f);
        json_hist(f, "response", &r->resp_lat);
    }
    fprintf(f, "},\"errors\":{\"total\":%llu", (unsigned long long)r->errors);
    for (int k = 0; k < ETLS_HS_ERR_KINDS; k++)
        fprintf(f, ",\"%s\":%llu", etls_hs_err_name((etls_hs_err_t)k), (unsigned long long)r->err[k]);
    fprintf(f, ",\"alerts\":{");
    for (int a = 0, first = 1; a < 256; a++)
        if (r->alerts[a]) {
            fprintf(f, "%s\"%d\":%llu", first ? "" : ",", a, (unsigned long long)r->alerts[a]);
            first = 0;
        }
    fprintf(f, "}},\"late\":%llu,\"abandoned\":%llu,", (unsigned long long)r->late,
            (unsigned long long)r->abandoned);
    fprintf(f, "\"cpu\":{\"user_s\":%.6f,\"sys_s\":%.6f,\"us_per_handshake\":%.3f,\"pct_of_cores\":%.1f},",
            r->cpu_user_s, r->cpu_sys_s, r->handshakes ? cpu * 1e6 / (double)r->handshakes : 0,
            cpu_pct(o, r));
    fprintf(f, "\"timeline\":[");
    for (unsigned s = 0; s < r->n_seconds; s++)
        fprintf(f, "%s{\"s\":%u,\"handshakes\":%llu,\"errors\":%llu,\"p50_us\":%.1f,\"p99_us\":%.1f}",
                s ? "," : "", s + 1, (unsigned long long)r->sec[s].handshakes,
                (unsigned long long)r->sec[s].errors, r->sec[s].p50_ns / 1e3, r->sec[s].p99_ns / 1e3);
    fprintf(f, "]}\n");
}

/* ---- HTML ---------------------------------------------------------------------------------- */

#define W 640
#define H 240
#define PAD 64

static void svg_axes(FILE *f, const char *xl, const char *yl, double ymax)
{
    fprintf(f, "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' "
               "font-family='sans-serif' font-size='11'>\n", W, H);
    fprintf(f, "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='#333'/>", PAD, H - PAD + 10, W - 10,
            H - PAD + 10);
    fprintf(f, "<line x1='%d' y1='10' x2='%d' y2='%d' stroke='#333'/>\n", PAD, PAD, H - PAD + 10);
    for (int i = 0; i <= 4; i++) {
        double v = ymax * i / 4;
        int y = H - PAD + 10 - (H - PAD) * i / 4;
        fprintf(f, "<text x='%d' y='%d' text-anchor='end'>%.4g</text>"
                   "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='#ddd'/>\n",
                PAD - 4, y + 4, v, PAD, y, W - 10, y);
    }
    fprintf(f, "<text x='%d' y='%d' text-anchor='middle'>%s</text>", (W + PAD) / 2, H - 8, xl);
    fprintf(f, "<text x='12' y='%d' transform='rotate(-90 12 %d)' text-anchor='middle'>%s</text>\n",
            H / 2, H / 2, yl);
}

static void svg_rate(FILE *f, const etls_hs_result_t *r)
{
    double ymax = 1;
    unsigned n = r->n_seconds ? r->n_seconds : 1;
    for (unsigned s = 0; s < r->n_seconds; s++)
        if ((double)r->sec[s].handshakes > ymax)
            ymax = (double)r->sec[s].handshakes;
    ymax *= 1.1;
    svg_axes(f, "seconds", "handshakes/s", ymax);
    fprintf(f, "<polyline fill='none' stroke='#1f77b4' stroke-width='2' points='");
    for (unsigned s = 0; s < r->n_seconds; s++) {
        double x = PAD + (double)(W - 10 - PAD) * (s + 0.5) / n;
        double y = H - PAD + 10 - (H - PAD) * (double)r->sec[s].handshakes / ymax;
        fprintf(f, "%.1f,%.1f ", x, y);
    }
    fprintf(f, "'/>\n");
    for (unsigned s = 0; s < r->n_seconds; s += (n + 9) / 10)
        fprintf(f, "<text x='%.1f' y='%d' text-anchor='middle'>%u</text>",
                PAD + (double)(W - 10 - PAD) * (s + 0.5) / n, H - PAD + 24, s + 1);
    fprintf(f, "</svg>\n");
}

/* Latency distribution as a percentile curve (x: percentile on a log "nines" scale). */
static void svg_latency(FILE *f, const etls_hist_t *h)
{
    static const double ps[] = {0, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 100};
    const size_t np = sizeof ps / sizeof ps[0];
    double ymax = h->count ? (double)h->max / 1e6 * 1.1 : 1;
    svg_axes(f, "percentile", "latency (ms)", ymax);
    fprintf(f, "<polyline fill='none' stroke='#d62728' stroke-width='2' points='");
    for (size_t i = 0; i < np; i++) {
        double x = PAD + (double)(W - 10 - PAD) * (double)i / (double)(np - 1);
        double y = H - PAD + 10 - (H - PAD) * (etls_hist_percentile(h, ps[i]) / 1e6) / ymax;
        fprintf(f, "%.1f,%.1f ", x, y);
    }
    fprintf(f, "'/>\n");
    for (size_t i = 0; i < np; i++)
        fprintf(f, "<text x='%.1f' y='%d' text-anchor='middle'>%g</text>",
                PAD + (double)(W - 10 - PAD) * (double)i / (double)(np - 1), H - PAD + 24, ps[i]);
    fprintf(f, "</svg>\n");
}

int etls_hs_report_html(const char *path, const etls_hs_opts_t *o, const etls_hs_result_t *r)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return ETLS_ERR_IO;
    fprintf(f, "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>edgetls-bench hs %s</title>\n"
               "<style>body{font-family:sans-serif;margin:2em;max-width:60em}"
               "pre{background:#f4f4f4;padding:1em;white-space:pre-wrap;word-break:break-all}"
               "</style></head><body>\n",
            o->target);
    fprintf(f, "<h1>edgetls-bench hs: %s</h1>\n<pre>", o->target);
    etls_hs_report_text(f, o, r);
    fprintf(f, "</pre>\n<h2>Handshakes per second</h2>\n");
    svg_rate(f, r);
    fprintf(f, "<h2>Handshake latency distribution</h2>\n");
    svg_latency(f, &r->hs_lat);
    if (o->request) {
        fprintf(f, "<h2>Response latency distribution</h2>\n");
        svg_latency(f, &r->resp_lat);
    }
    fprintf(f, "<h2>Raw result (JSON)</h2>\n<pre>");
    etls_hs_report_json(f, o, r);
    fprintf(f, "</pre>\n</body></html>\n");
    return fclose(f) == 0 ? 0 : ETLS_ERR_IO;
}
