/*
 * driver.c - a libFuzzer-compatible driver for gcc builds: runs a fuzz
 * target's LLVMFuzzerTestOneInput over every file of the corpus directories
 * given on the command line, then over -iters=N deterministic mutations of
 * them (bit flips, byte changes, truncations, splices). `make test` runs it
 * under ASan/UBSan so every parser's fuzz target is exercised in CI; `make
 * fuzz` links the same targets with real libFuzzer instead.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct input {
    uint8_t *data;
    size_t len;
} input_t;

static input_t *inputs;
static size_t ninputs, cap;

static void add_input(uint8_t *data, size_t len)
{
    if (ninputs == cap) {
        cap = cap ? cap * 2 : 64;
        inputs = realloc(inputs, cap * sizeof *inputs);
    }
    inputs[ninputs].data = data;
    inputs[ninputs].len = len;
    ninputs++;
}

static void load_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (n < 0 || n > (64 << 20)) {
        fclose(f);
        return;
    }
    uint8_t *p = malloc((size_t)n + 1);
    if (fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        fclose(f);
        return;
    }
    fclose(f);
    add_input(p, (size_t)n);
}

static void load_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[4096];
    if (!d) {
        load_file(dir);
        return;
    }
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        load_file(path);
    }
    closedir(d);
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static size_t mutate(uint8_t *buf, size_t len, size_t cap_len)
{
    int ops = 1 + (int)(next_rand() % 4);
    for (int i = 0; i < ops; i++) {
        switch (next_rand() % 6) {
        case 0: if (len) buf[next_rand() % len] ^= (uint8_t)(1u << (next_rand() % 8)); break;
        case 1: if (len) buf[next_rand() % len] = (uint8_t)next_rand(); break;
        case 2: if (len) len = next_rand() % len; break;
        case 3: /* insert a byte */
            if (len < cap_len) {
                size_t at = len ? next_rand() % len : 0;
                memmove(buf + at + 1, buf + at, len - at);
                buf[at] = (uint8_t)next_rand();
                len++;
            }
            break;
        case 4: /* splice in bytes of another input */
            if (ninputs && len) {
                input_t *o = &inputs[next_rand() % ninputs];
                if (o->len) {
                    size_t at = next_rand() % len, from = next_rand() % o->len;
                    size_t n = 1 + next_rand() % 32;
                    if (n > o->len - from) n = o->len - from;
                    if (n > cap_len - at) n = cap_len - at;
                    memcpy(buf + at, o->data + from, n);
                    if (at + n > len) len = at + n;
                }
            }
            break;
        default: /* interesting values */
            if (len >= 4) {
                static const uint32_t v[] = {0, 0xffffffffu, 0x7fffffffu, 0x80, 0xff, 0x10000};
                uint32_t x = v[next_rand() % 6];
                memcpy(buf + next_rand() % (len - 3), &x, 4);
            }
        }
    }
    return len;
}

int main(int argc, char **argv)
{
    long iters = 20000;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "-iters=", 7) == 0)
            iters = atol(argv[i] + 7);
        else
            load_dir(argv[i]);
    }
    if (!ninputs)
        add_input(calloc(1, 1), 0);
    for (size_t i = 0; i < ninputs; i++)
        LLVMFuzzerTestOneInput(inputs[i].data, inputs[i].len);
    size_t maxlen = 0;
    for (size_t i = 0; i < ninputs; i++)
        if (inputs[i].len > maxlen)
            maxlen = inputs[i].len;
    size_t cap_len = maxlen + 256;
    uint8_t *buf = malloc(cap_len);
    for (long it = 0; it < iters; it++) {
        input_t *in = &inputs[next_rand() % ninputs];
        memcpy(buf, in->data, in->len);
        size_t len = mutate(buf, in->len, cap_len);
        /* Copy to an exact-size heap block so ASan catches overreads. */
        uint8_t *exact = malloc(len ? len : 1);
        memcpy(exact, buf, len);
        LLVMFuzzerTestOneInput(exact, len);
        free(exact);
    }
    free(buf);
    printf("%s: %zu corpus inputs, %ld mutations, no crash\n", argv[0], ninputs, iters);
    for (size_t i = 0; i < ninputs; i++)
        free(inputs[i].data);
    free(inputs);
    return 0;
}
