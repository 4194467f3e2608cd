/*
 * test_objstore_fs.c - the filesystem bucket: the shared bucket contract
 * (objstore_contract.h) on a temporary directory, plus what only a file
 * tree has (layout, atomic temp files, stale temp cleanup, key/directory
 * collisions), and the -storage.* options with fx_objstore_open.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "config/process.h"
#include "objstore/fs.h"
#include "objstore/objstore.h"
#include "objstore_contract.h"

static char dir[] = "/tmp/fornax-objstore-fs-XXXXXX";
static char bdir[128];

static int setup(void **state)
{
    (void)state;
    fx_err_t err = {0};
    if (!mkdtemp(dir))
        return -1;
    snprintf(bdir, sizeof bdir, "%s/bucket/nested", dir); /* created with parents */
    if (fx_bucket_fs_new(bdir, &contract_bucket, &err) != FX_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fx_bucket_close(contract_bucket);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static bool file_exists(const char *rel)
{
    char p[512];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", bdir, rel);
    return stat(p, &st) == 0;
}

static int count_tmp(void)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "ls -A %s/@fornax-tmp | wc -l", bdir);
    FILE *f = popen(cmd, "r");
    int n = -1;
    if (f) {
        if (fscanf(f, "%d", &n) != 1)
            n = -1;
        pclose(f);
    }
    return n;
}

static void test_fs_layout(void **state)
{
    (void)state;
    fx_err_t err = {0};
    put_str("L/tenant/01ABC/meta.json", "{}");
    assert_true(file_exists("L/tenant/01ABC/meta.json"));
    assert_int_equal(count_tmp(), 0); /* renamed away */
    assert_string_equal(contract_bucket->backend, "filesystem");
    assert_non_null(strstr(contract_bucket->where, bdir));
    /* The temp directory never shows in listings. */
    char *s = listing("", "/");
    assert_string_equal(s, "L/");
    free(s);
    assert_int_equal(fx_bucket_delete(contract_bucket, "L/tenant/01ABC/meta.json", &err), FX_OK);
    assert_false(file_exists("L")); /* empty parents removed */
    assert_true(file_exists("@fornax-tmp"));
}

/* Directories whose objects are all deeper still make common prefixes; a
 * directory tree without any object (left by a crash) makes none. */
static void test_fs_deep_prefixes(void **state)
{
    (void)state;
    put_str("D/t1/b1/x/y/z", "z");
    put_str("D/t2/b/meta.json", "m");
    char p[512];
    snprintf(p, sizeof p, "mkdir -p %s/D/t3/empty/dirs %s/D/t1/empty", bdir, bdir);
    assert_int_equal(system(p), 0);
    char *s = listing("D/", "/");
    assert_string_equal(s, "D/t1/ D/t2/");
    free(s);
    s = listing("D/t1/", "/");
    assert_string_equal(s, "D/t1/b1/");
    free(s);
    s = listing("D/", NULL);
    assert_string_equal(s, "D/t1/b1/x/y/z=1 D/t2/b/meta.json=1");
    free(s);
    delete_all("D/");
    snprintf(p, sizeof p, "rm -rf %s/D", bdir);
    assert_int_equal(system(p), 0);
}

static void test_fs_conflicts(void **state)
{
    (void)state;
    fx_err_t err = {0};
    put_str("K/x", "file");
    assert_int_equal(fx_bucket_put(contract_bucket, "K/x/y", "z", 1, &err), FX_EPRECOND);
    assert_non_null(strstr(err.msg, "cannot hold both"));
    put_str("K/d/e", "file");
    assert_int_equal(fx_bucket_put(contract_bucket, "K/d", "z", 1, &err), FX_EPRECOND);
    assert_non_null(strstr(err.msg, "cannot hold both"));
    assert_int_equal(count_tmp(), 0); /* failed writes leave nothing behind */
    char *s = get_str("K/d/e");
    assert_string_equal(s, "file");
    free(s);
    delete_all("K/");
}

static void test_fs_stale_tmp(void **state)
{
    (void)state;
    fx_err_t err = {0};
    char oldf[256], newf[256];
    snprintf(oldf, sizeof oldf, "%s/@fornax-tmp/crashed", bdir);
    snprintf(newf, sizeof newf, "%s/@fornax-tmp/inflight", bdir);
    for (int i = 0; i < 2; i++) {
        int fd = open(i ? newf : oldf, O_CREAT | O_WRONLY, 0644);
        assert_true(fd >= 0);
        close(fd);
    }
    struct timespec ts[2] = {{time(NULL) - 7200, 0}, {time(NULL) - 7200, 0}};
    assert_int_equal(utimensat(AT_FDCWD, oldf, ts, 0), 0);
    fx_bucket_t *b2;
    assert_int_equal(fx_bucket_fs_new(bdir, &b2, &err), FX_OK);
    fx_bucket_close(b2);
    assert_false(file_exists("@fornax-tmp/crashed"));
    assert_true(file_exists("@fornax-tmp/inflight")); /* may belong to a live writer */
    unlink(newf);
}

static void test_fs_open_errors(void **state)
{
    (void)state;
    fx_err_t err = {0};
    fx_bucket_t *b;
    char file[256];
    snprintf(file, sizeof file, "%s/plainfile", dir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(fx_bucket_fs_new(file, &b, &err), FX_EIO);
    assert_non_null(strstr(err.msg, file));
    assert_null(b);
    assert_int_equal(fx_bucket_fs_new("", &b, &err), FX_EINVAL);
    assert_non_null(strstr(err.msg, "-storage.filesystem.dir"));
}

/* ---- options ------------------------------------------------------------------------ */

typedef struct env {
    fx_config_t *cfg;
    fx_process_opts_t p;
    fx_objstore_opts_t s;
} env_t;

static env_t *env_new(int argc, char **argv, fx_err_t *err, int *rc)
{
    env_t *e = fx_calloc(1, sizeof *e);
    e->cfg = fx_config_new();
    fx_process_opts_register(e->cfg, &e->p);
    fx_objstore_register(e->cfg, &e->s);
    *rc = fx_config_load(e->cfg, argc, argv, err);
    return e;
}

static void env_free(env_t *e)
{
    fx_config_free(e->cfg);
    free(e);
}

static void test_options_open(void **state)
{
    (void)state;
    fx_err_t err = {0};
    fx_bucket_t *b;
    int rc;
    char ddir[256], flag[300];
    snprintf(ddir, sizeof ddir, "%s/datadir", dir);
    snprintf(flag, sizeof flag, "-data-dir=%s", ddir);

    /* Defaults: filesystem under the data directory, whatever the flag order. */
    char *argv1[] = {"fornax", flag};
    env_t *e = env_new(2, argv1, &err, &rc);
    assert_int_equal(rc, FX_OK);
    assert_string_equal(e->s.backend, "filesystem");
    assert_string_equal(e->s.fs_dir, "");
    assert_int_equal(e->s.s3_part_size, 8 << 20);
    assert_int_equal(fx_objstore_open(&e->s, e->p.data_dir, &b, &err), FX_OK);
    assert_string_equal(b->backend, "filesystem");
    char want[300];
    snprintf(want, sizeof want, "filesystem %s/bucket", ddir);
    assert_string_equal(b->where, want);
    fx_bucket_close(b);
    env_free(e);

    /* An explicit directory wins. */
    char fsflag[300];
    snprintf(fsflag, sizeof fsflag, "-storage.filesystem.dir=%s/explicit", dir);
    char *argv2[] = {"fornax", fsflag, flag};
    e = env_new(3, argv2, &err, &rc);
    assert_int_equal(rc, FX_OK);
    assert_int_equal(fx_objstore_open(&e->s, e->p.data_dir, &b, &err), FX_OK);
    assert_non_null(strstr(b->where, "/explicit"));
    fx_bucket_close(b);
    env_free(e);

    /* S3 settings are checked, each error naming its flag. */
    char *argv3[] = {"fornax", "-storage.backend=s3", "-storage.s3.access-key-id=A",
                     "-storage.s3.secret-access-key=S"};
    e = env_new(4, argv3, &err, &rc);
    assert_int_equal(rc, FX_OK);
    assert_int_equal(fx_objstore_open(&e->s, e->p.data_dir, &b, &err), FX_EINVAL);
    assert_non_null(strstr(err.msg, "-storage.s3.bucket-name"));
    env_free(e);
    char *argv4[] = {"fornax", "-storage.backend=s3", "-storage.s3.bucket-name=blocks",
                     "-storage.s3.endpoint=http://minio:9000", "-storage.s3.access-key-id=A",
                     "-storage.s3.secret-access-key=S"};
    e = env_new(6, argv4, &err, &rc);
    assert_int_equal(fx_objstore_open(&e->s, e->p.data_dir, &b, &err), FX_EINVAL);
    assert_non_null(strstr(err.msg, "without a scheme"));
    env_free(e);
    char *argv5[] = {"fornax", "-storage.backend=gcs"};
    e = env_new(2, argv5, &err, &rc);
    assert_int_equal(rc, FX_EINVAL);
    env_free(e);
    char *argv6[] = {"fornax", "-storage.s3.part-size=1MiB"};
    e = env_new(2, argv6, &err, &rc);
    assert_int_equal(rc, FX_EINVAL); /* below S3's 5 MiB */
    env_free(e);

    /* A full S3 configuration, from YAML with Pyroscope's keys. */
    const char *yaml = "storage:\n"
                       "  backend: s3\n"
                       "  s3:\n"
                       "    endpoint: 127.0.0.1:9000\n"
                       "    bucket_name: blocks\n"
                       "    access_key_id: AKID\n"
                       "    secret_access_key: hunter2\n"
                       "    region: eu-west-1\n"
                       "    insecure: true\n"
                       "    force_path_style: true\n";
    e = env_new(1, argv1, &err, &rc);
    assert_int_equal(fx_config_load_yaml(e->cfg, yaml, strlen(yaml), "t.yaml", &err), FX_OK);
    assert_int_equal(fx_objstore_open(&e->s, e->p.data_dir, &b, &err), FX_OK);
    assert_string_equal(b->backend, "s3");
    assert_string_equal(b->where, "s3 http://127.0.0.1:9000/blocks");
    fx_bucket_close(b);
    /* The secret never appears in the effective configuration. */
    fx_buf_t dump = FX_BUF_INIT;
    fx_config_dump(e->cfg, FX_CONFIG_DUMP_ALL, &dump);
    const char *d = fx_buf_cstr(&dump);
    assert_null(strstr(d, "hunter2"));
    assert_non_null(strstr(d, "    secret_access_key: \"********\"\n"));
    assert_non_null(strstr(d, "    access_key_id: AKID\n"));
    dump.len = 0;
    fx_config_dump(e->cfg, FX_CONFIG_DUMP_DIFF, &dump);
    assert_null(strstr(fx_buf_cstr(&dump), "hunter2"));
    assert_non_null(strstr(fx_buf_cstr(&dump), "secret_access_key: \"********\""));
    fx_buf_free(&dump);
    env_free(e);

    /* Virtual-hosted style and the AWS default endpoint. */
    char *argv7[] = {"fornax", "-storage.backend=s3", "-storage.s3.bucket-name=blocks",
                     "-storage.s3.region=eu-west-1", "-storage.s3.access-key-id=A",
                     "-storage.s3.secret-access-key=S"};
    e = env_new(6, argv7, &err, &rc);
    assert_int_equal(fx_objstore_open(&e->s, e->p.data_dir, &b, &err), FX_OK);
    assert_string_equal(b->where, "s3 https://blocks.s3.eu-west-1.amazonaws.com");
    fx_bucket_close(b);
    env_free(e);

    /* Credentials from the environment when the flags are empty. */
    char *argv8[] = {"fornax", "-storage.backend=s3", "-storage.s3.bucket-name=blocks"};
    e = env_new(3, argv8, &err, &rc);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    assert_int_equal(fx_objstore_open(&e->s, e->p.data_dir, &b, &err), FX_EINVAL);
    assert_non_null(strstr(err.msg, "AWS_ACCESS_KEY_ID"));
    setenv("AWS_ACCESS_KEY_ID", "envkey", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
    assert_int_equal(fx_objstore_open(&e->s, e->p.data_dir, &b, &err), FX_OK);
    fx_bucket_close(b);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    env_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CONTRACT_TESTS,
        cmocka_unit_test(test_fs_layout),
        cmocka_unit_test(test_fs_deep_prefixes),
        cmocka_unit_test(test_fs_conflicts),
        cmocka_unit_test(test_fs_stale_tmp),
        cmocka_unit_test(test_fs_open_errors),
        cmocka_unit_test(test_options_open),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
