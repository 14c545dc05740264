/* libFuzzer harness for certificate-entry validation (control/validate): the first input byte
 * splits the rest into a chain PEM and a key PEM (also tried as raw DER inside PEM armour).
 * Contract: no crash, leak or out-of-bounds read (ASan); a refusal always has a message that
 * names the entry; etls_val_brief of the chain agrees with the check's description of it. Replayed without libFuzzer by fuzz/replay.c over fuzz/corpus/validate. */
#include "validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    size_t cut = (size_t)data[0] * (size - 1) / 255;
    const char *chain = (const char *)data + 1, *key = chain + cut;
    static etls_val_info_t info;
    char err[600];
    const char *names[] = {"www.example.test"};
    etls_val_opts_t o = {.ca_file = "/nonexistent", .warn_days = 30, .now = 1765000000};
    /* the brief `cert list` shows: no crash on anything; and what it says of a leaf the full
     * check could describe is what the check says */
    etls_val_brief_t brief;
    int have_brief = etls_val_brief(chain, cut, &brief) == 0;
    for (int with_names = 0; with_names < 2; with_names++) {
        err[0] = 0;
        memset(&info, 0, sizeof info);
        if (etls_val_check("fz", chain, cut, key, size - 1 - cut, names, (size_t)with_names, &o, &info, err,
                           sizeof err) < 0 && strncmp(err, "cert fz: ", 9) != 0) {
            fprintf(stderr, "fuzz_validate: refusal without the entry's name: '%s'\n", err);
            abort();
        }
        if (have_brief && info.fingerprint[0] &&
            (strcmp(brief.fingerprint, info.fingerprint) || strcmp(brief.serial, info.serial) ||
             strcmp(brief.not_after, info.not_after))) {
            fprintf(stderr, "fuzz_validate: brief (%s %s) and check (%s %s) disagree\n", brief.serial,
                    brief.fingerprint, info.serial, info.fingerprint);
            abort();
        }
    }
    return 0;
}
