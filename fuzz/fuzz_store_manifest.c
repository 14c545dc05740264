/* libFuzzer harness for control/store's manifest parser (control/store/manifest.c).
 * Input: a manifest text. Contract checked:
 *   - no crash, no out-of-bounds read or leak (ASan), bounded work for any input;
 *   - an accepted manifest is canonical: formatting the parsed result gives back exactly the
 *     input bytes (so the parser accepts nothing the formatter would not write), and it
 *     satisfies the same state checks a commit applies;
 *   - a rejected manifest always comes with a one-line reason.
 * Also replayed without libFuzzer by fuzz/replay.c over fuzz/corpus/store_manifest. */
#include "manifest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_store_manifest: contract violated: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    etls_manifest_t m;
    char err[256] = "";
    if (etls_store_manifest_parse((const char *)data, size, &m, err, sizeof err)) {
        check(err[0] != 0 && strchr(err, '\n') == NULL, "rejection without a one-line reason");
        return 0;
    }
    check(etls_store_state_check(&m.st, err, sizeof err) == 0, "accepted state fails the check");
    char *text;
    size_t len;
    check(etls_store_manifest_format(&m.st, m.format, (const uint8_t(*)[32])m.objects, m.blobs, m.n_blobs, m.files, m.n_files,
                                     &text, &len) == 0,
          "format failed");
    check(len == size && memcmp(text, data, size) == 0, "format(parse(x)) != x");
    free(text);
    etls_store_manifest_free(&m);
    return 0;
}
