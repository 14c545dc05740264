/* libFuzzer harness for control/store's manifest parser (control/store/manifest.c).
 * Input: a manifest text (any format), or a format-3 part ("edgetls-part 1"). Contract checked:
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

/* A part object (format 3): parsed with as many entries as it has "entry " lines, and then it
 * must format back to exactly the input. */
static void one_part(const uint8_t *data, size_t size)
{
    uint32_t count = 0;
    for (size_t i = 0; i + 6 <= size; i++)
        count += (i == 0 || data[i - 1] == '\n') && memcmp(data + i, "entry ", 6) == 0;
    etls_manifest_t m = {.format = 3};
    char err[256] = "";
    if (etls_store_manifest_part(&m, (const char *)data, size, count, err, sizeof err)) {
        check(err[0] != 0 && strchr(err, '\n') == NULL, "part rejection without a one-line reason");
        etls_store_manifest_free(&m);
        return;
    }
    char *text;
    size_t len;
    check(etls_store_part_format(m.st.entries, m.st.n_entries, (const uint8_t(*)[32])m.objects, &text, &len) == 0,
          "part format failed");
    check(len == size && memcmp(text, data, size) == 0, "part format(parse(x)) != x");
    free(text);
    etls_store_manifest_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char part_magic[] = ETLS_MANIFEST_PART_MAGIC "\n";
    if (size >= sizeof part_magic - 1 && memcmp(data, part_magic, sizeof part_magic - 1) == 0) {
        one_part(data, size);
        return 0;
    }
    etls_manifest_t m;
    char err[256] = "";
    if (etls_store_manifest_parse((const char *)data, size, &m, err, sizeof err)) {
        check(err[0] != 0 && strchr(err, '\n') == NULL, "rejection without a one-line reason");
        return 0;
    }
    check(etls_store_state_check(&m.st, err, sizeof err) == 0, "accepted state fails the check");
    char *text;
    size_t len;
    if (m.format == 3)
        check(etls_store_manifest_format_parts(&m.st, (const uint8_t(*)[32])m.parts, m.part_counts, m.n_parts, m.blobs,
                                               m.n_blobs, m.files, m.n_files, &text, &len) == 0,
              "format failed");
    else
        check(etls_store_manifest_format(&m.st, m.format, (const uint8_t(*)[32])m.objects, m.blobs, m.n_blobs, m.files,
                                         m.n_files, &text, &len) == 0,
              "format failed");
    check(len == size && memcmp(text, data, size) == 0, "format(parse(x)) != x");
    free(text);
    etls_store_manifest_free(&m);
    return 0;
}
