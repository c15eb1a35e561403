/* The POSIX file adapters: sources, sinks, flash images, the state directory, maps. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/internal.h"
#include "libdelta/fileio.h"
#include "testutil.h"

static char *dir;

static void setup(void) { dir = tu_tempdir(); }

/* Removes the temporary directory and the files the tests leave in it. */
static void teardown(void)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char p[512];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            struct stat st;
            if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
                char q[1024];
                const char *names[] = {"journal", "journal.tmp", "scratch"};
                for (size_t i = 0; i < 3; i++) {
                    snprintf(q, sizeof q, "%s/%s", p, names[i]);
                    unlink(q);
                }
                rmdir(p);
            } else {
                unlink(p);
            }
        }
        closedir(d);
    }
    rmdir(dir);
    free(dir);
}

TestSuite(fileio, .init = setup, .fini = teardown);

static char *path_in(const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    cr_assert(p);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

Test(fileio, source_reads_exact_bytes_and_refuses_past_the_end)
{
    uint8_t data[10000];
    tu_fill_random(data, sizeof data, 1);
    char *p = path_in("src.bin");
    tu_write_file(p, data, sizeof data);

    delta_source src;
    delta_file *f = NULL;
    cr_assert_eq(delta_file_source_open(p, &src, &f), DELTA_OK);
    cr_assert_not_null(f);
    cr_assert_eq(src.size, sizeof data);

    uint8_t buf[sizeof data];
    cr_assert_eq(src.read(src.ctx, 0, buf, sizeof buf), DELTA_IO_OK);
    cr_assert_arr_eq(buf, data, sizeof data);
    cr_assert_eq(src.read(src.ctx, 9990, buf, 10), DELTA_IO_OK);
    cr_assert_arr_eq(buf, data + 9990, 10);
    cr_assert_eq(src.read(src.ctx, 10000, buf, 0), DELTA_IO_OK);

    /* Past the end: the callback reports a short read, the checked helper an error. */
    cr_assert_eq(src.read(src.ctx, 9991, buf, 10), DELTA_IO_SHORT);
    cr_assert_eq(src.read(src.ctx, UINT64_MAX, buf, 1), DELTA_IO_SHORT);
    cr_assert_eq(dlt_read_source(&src, 9995, buf, 6, DELTA_ERR_SOURCE), DELTA_ERR_SOURCE);
    cr_assert_eq(dlt_read_source(&src, 9995, buf, 5, DELTA_ERR_SOURCE), DELTA_OK);
    cr_assert_arr_eq(buf, data + 9995, 5);

    delta_file_close(f);
    delta_file_close(NULL);
    free(p);
}

Test(fileio, missing_file_is_an_input_error_naming_the_path)
{
    char *p = path_in("no-such-file.bin");
    delta_source src;
    delta_file *f = (delta_file *)1;
    cr_assert_eq(delta_file_source_open(p, &src, &f), DELTA_ERR_INPUT);
    cr_assert_null(f);
    cr_assert(strstr(delta_last_error(), p) != NULL, "message: %s", delta_last_error());
    cr_assert(strstr(delta_last_error(), "No such file") != NULL, "message: %s", delta_last_error());

    delta_clear_error();
    delta_flash flash;
    cr_assert_eq(delta_file_flash_open(p, UINT64_MAX, &flash, &f), DELTA_ERR_INPUT);
    cr_assert(strstr(delta_last_error(), p) != NULL);

    delta_clear_error();
    const uint8_t *data;
    size_t len;
    cr_assert_eq(delta_file_map(p, &data, &len, &f), DELTA_ERR_INPUT);
    cr_assert_null(f);
    cr_assert(strstr(delta_last_error(), p) != NULL);

    delta_clear_error();
    delta_buf buf = DELTA_BUF_INIT;
    cr_assert_eq(delta_file_read_all(p, 100, &buf), DELTA_ERR_INPUT);
    cr_assert(strstr(delta_last_error(), p) != NULL);
    delta_buf_free(&buf);

    char *q = path_in("no-such-dir/out.bin");
    delta_sink sink;
    cr_assert_eq(delta_file_sink_open(q, &sink, &f), DELTA_ERR_OUTPUT);
    cr_assert(strstr(delta_last_error(), q) != NULL);
    free(q);
    free(p);
}

Test(fileio, sink_writes_out_of_order_and_reads_back)
{
    char *p = path_in("out.bin");
    tu_write_file(p, "old contents that must vanish", 29);
    uint8_t data[70000];
    tu_fill_random(data, sizeof data, 2);

    delta_sink sink;
    delta_file *f;
    cr_assert_eq(delta_file_sink_open(p, &sink, &f), DELTA_OK);
    cr_assert_eq(sink.write(sink.ctx, 40000, data + 40000, 30000), DELTA_IO_OK);
    cr_assert_eq(sink.write(sink.ctx, 0, data, 40000), DELTA_IO_OK);
    cr_assert_eq(sink.write(sink.ctx, 5, data, 0), DELTA_IO_OK);
    cr_assert_eq(delta_file_sync(f), DELTA_OK);
    delta_file_close(f);

    size_t len;
    uint8_t *back = tu_read_file(p, &len);
    cr_assert_eq(len, sizeof data);
    cr_assert_arr_eq(back, data, sizeof data);
    free(back);
    free(p);
}

Test(fileio, flash_writes_syncs_and_resizes)
{
    char *p = path_in("flash.bin");
    uint8_t old[8192], upd[4096];
    tu_fill_random(old, sizeof old, 3);
    tu_fill_random(upd, sizeof upd, 4);
    tu_write_file(p, old, sizeof old);

    delta_flash flash;
    delta_file *f;
    cr_assert_eq(delta_file_flash_open(p, 16384, &flash, &f), DELTA_OK);
    cr_assert_eq(flash.size, sizeof old);
    cr_assert_eq(flash.capacity, 16384);
    cr_assert_not_null(flash.resize);

    uint8_t buf[8192];
    cr_assert_eq(flash.read(flash.ctx, 0, buf, sizeof buf), DELTA_IO_OK);
    cr_assert_arr_eq(buf, old, sizeof old);
    cr_assert_eq(flash.read(flash.ctx, 8000, buf, 193), DELTA_IO_SHORT);

    /* Overwrite the middle, grow past the old end, stay inside the capacity. */
    cr_assert_eq(flash.write(flash.ctx, 2048, upd, sizeof upd), DELTA_IO_OK);
    cr_assert_eq(flash.write(flash.ctx, 12288, upd, sizeof upd), DELTA_IO_OK);
    cr_assert_eq(flash.write(flash.ctx, 12289, upd, sizeof upd), DELTA_IO_NOSPACE);
    cr_assert_eq(flash.sync(flash.ctx), DELTA_IO_OK);
    cr_assert_eq(flash.read(flash.ctx, 2048, buf, sizeof upd), DELTA_IO_OK);
    cr_assert_arr_eq(buf, upd, sizeof upd);

    cr_assert_eq(flash.resize(flash.ctx, 16385), DELTA_IO_NOSPACE);
    cr_assert_eq(flash.resize(flash.ctx, 6144), DELTA_IO_OK);
    cr_assert_eq(flash.sync(flash.ctx), DELTA_IO_OK);
    cr_assert_eq(delta_file_sync(f), DELTA_OK);
    delta_file_close(f);

    size_t len;
    uint8_t *back = tu_read_file(p, &len);
    cr_assert_eq(len, 6144);
    cr_assert_arr_eq(back, old, 2048);
    cr_assert_arr_eq(back + 2048, upd, 4096);
    free(back);

    /* An unlimited region grows freely. */
    cr_assert_eq(delta_file_flash_open(p, UINT64_MAX, &flash, &f), DELTA_OK);
    cr_assert_eq(flash.size, 6144);
    cr_assert_eq(flash.write(flash.ctx, 1 << 20, upd, 16), DELTA_IO_OK);
    cr_assert_eq(flash.sync(flash.ctx), DELTA_IO_OK);
    delta_file_close(f);
    struct stat st;
    cr_assert_eq(stat(p, &st), 0);
    cr_assert_eq(st.st_size, (1 << 20) + 16);
    free(p);
}

Test(fileio, dir_store_is_created_by_the_first_write_and_replaces_the_journal_atomically)
{
    char *sd = path_in("state");
    char *journal = path_in("state/journal");
    char *tmp = path_in("state/journal.tmp");
    cr_assert_eq(delta_dir_store_has_journal(sd), 0);

    delta_store store;
    delta_dir_store *s = NULL;
    cr_assert_eq(delta_dir_store_open(sd, &store, &s), DELTA_OK, "%s", delta_last_error());
    cr_assert_not(exists(sd), "opening creates nothing");
    cr_assert_gt(store.free_bytes, 0);
    uint8_t buf[64];
    size_t len = 99;
    cr_assert_eq(store.journal_read(store.ctx, buf, sizeof buf, &len), DELTA_IO_OK);
    cr_assert_eq(len, 0, "no directory: no journal");
    cr_assert_eq(store.journal_remove(store.ctx), DELTA_IO_OK, "removing nothing is fine");
    cr_assert_not(exists(sd));

    cr_assert_eq(store.journal_write(store.ctx, "journal A, the first", 20), DELTA_IO_OK);
    struct stat st;
    cr_assert_eq(stat(sd, &st), 0);
    cr_assert(S_ISDIR(st.st_mode));
    cr_assert_eq(st.st_mode & 0777, 0700);
    cr_assert_eq(delta_dir_store_has_journal(sd), 1);
    cr_assert_not(exists(tmp));
    cr_assert_eq(store.journal_write(store.ctx, "B", 1), DELTA_IO_OK);
    cr_assert_not(exists(tmp));
    cr_assert_eq(store.journal_read(store.ctx, buf, sizeof buf, &len), DELTA_IO_OK);
    cr_assert_eq(len, 1);
    cr_assert_eq(buf[0], 'B');
    size_t flen;
    uint8_t *onfile = tu_read_file(journal, &flen);
    cr_assert_eq(flen, 1);
    cr_assert_eq(onfile[0], 'B');
    free(onfile);

    /* A journal larger than the caller's buffer is refused, not truncated. */
    cr_assert_eq(store.journal_write(store.ctx, "0123456789", 10), DELTA_IO_OK);
    cr_assert_eq(store.journal_read(store.ctx, buf, 9, &len), DELTA_IO_ERROR);
    cr_assert_eq(len, 0);
    cr_assert_eq(store.journal_read(store.ctx, buf, 10, &len), DELTA_IO_OK);
    cr_assert_eq(len, 10);
    cr_assert_arr_eq(buf, "0123456789", 10);
    delta_dir_store_close(s);
    cr_assert(exists(sd), "a directory holding a journal is kept");

    /* A reopened store sees the journal; opening deletes nothing (a stale journal.tmp stays, unused). */
    tu_write_file(tmp, "torn", 4);
    cr_assert_eq(delta_dir_store_open(sd, &store, &s), DELTA_OK);
    cr_assert(exists(tmp));
    cr_assert_eq(store.journal_read(store.ctx, buf, sizeof buf, &len), DELTA_IO_OK);
    cr_assert_eq(len, 10);
    cr_assert_arr_eq(buf, "0123456789", 10);

    /* Removal takes the files and the directory. */
    cr_assert_eq(store.journal_remove(store.ctx), DELTA_IO_OK);
    cr_assert_eq(delta_dir_store_has_journal(sd), 0);
    cr_assert_not(exists(sd), "the state directory is removed with the journal");
    cr_assert_eq(store.journal_read(store.ctx, buf, sizeof buf, &len), DELTA_IO_OK);
    cr_assert_eq(len, 0);
    cr_assert_eq(store.journal_remove(store.ctx), DELTA_IO_OK, "removing nothing is fine");
    delta_dir_store_close(s);
    delta_dir_store_close(NULL);
    free(sd);
    free(journal);
    free(tmp);
}

Test(fileio, dir_store_scratch_reads_writes_and_is_removed_with_the_journal)
{
    char *sd = path_in("state");
    char *scratch = path_in("state/scratch");
    delta_store store;
    delta_dir_store *s;
    cr_assert_eq(delta_dir_store_open(sd, &store, &s), DELTA_OK);
    cr_assert_eq(store.scratch_sync(store.ctx), DELTA_IO_OK);
    uint8_t a[5000], b[3000], buf[5000];
    cr_assert_neq(store.scratch_read(store.ctx, 0, buf, 1), DELTA_IO_OK, "no scratch to read");
    cr_assert_not(exists(sd), "a read creates nothing");
    tu_fill_random(a, sizeof a, 5);
    tu_fill_random(b, sizeof b, 6);
    cr_assert_eq(store.scratch_write(store.ctx, 4096, b, sizeof b), DELTA_IO_OK);
    cr_assert(exists(scratch), "the first write creates the directory and the scratch");
    cr_assert_eq(store.scratch_write(store.ctx, 0, a, 4096), DELTA_IO_OK);
    cr_assert_eq(store.scratch_sync(store.ctx), DELTA_IO_OK);
    cr_assert_eq(store.scratch_read(store.ctx, 4096, buf, sizeof b), DELTA_IO_OK);
    cr_assert_arr_eq(buf, b, sizeof b);
    cr_assert_eq(store.scratch_read(store.ctx, 0, buf, 4096), DELTA_IO_OK);
    cr_assert_arr_eq(buf, a, 4096);
    cr_assert_eq(store.scratch_read(store.ctx, 4096 + 2000, buf, 1001), DELTA_IO_SHORT);
    cr_assert_eq(store.journal_write(store.ctx, "J", 1), DELTA_IO_OK);
    delta_dir_store_close(s);

    /* The scratch survives a close (a power cut) and is read back by a new store. */
    cr_assert_eq(delta_dir_store_open(sd, &store, &s), DELTA_OK);
    cr_assert_eq(store.scratch_read(store.ctx, 4096, buf, sizeof b), DELTA_IO_OK);
    cr_assert_arr_eq(buf, b, sizeof b);
    cr_assert_eq(store.journal_remove(store.ctx), DELTA_IO_OK);
    cr_assert_not(exists(scratch));
    cr_assert_not(exists(sd));
    /* After removal a write starts over, empty. */
    cr_assert_eq(store.scratch_write(store.ctx, 0, a, 1), DELTA_IO_OK);
    cr_assert_eq(store.scratch_read(store.ctx, 1, buf, 1), DELTA_IO_SHORT);
    cr_assert_eq(store.journal_remove(store.ctx), DELTA_IO_OK);
    delta_dir_store_close(s);
    cr_assert_not(exists(sd));
    free(sd);
    free(scratch);
}

/* A state directory that is not ours is refused, and nothing in it is touched. */
Test(fileio, dir_store_refuses_what_is_not_ours)
{
    delta_store store;
    delta_dir_store *s = (delta_dir_store *)1;
    cr_assert_eq(delta_dir_store_open("", &store, &s), DELTA_ERR_ARG);
    cr_assert_null(s);

    char *target = path_in("elsewhere");
    char *link = path_in("link.fota");
    cr_assert_eq(mkdir(target, 0700), 0);
    cr_assert_eq(symlink(target, link), 0);
    cr_assert_eq(delta_dir_store_open(link, &store, &s), DELTA_ERR_INPUT);
    cr_assert(strstr(delta_last_error(), "symbolic link") != NULL, "%s", delta_last_error());

    char *file = path_in("file.fota");
    tu_write_file(file, "x", 1);
    cr_assert_eq(delta_dir_store_open(file, &store, &s), DELTA_ERR_INPUT);
    cr_assert(strstr(delta_last_error(), "not a directory") != NULL, "%s", delta_last_error());

    /* A directory holding someone else's files: refused, and its files stay. */
    char *foreign = path_in("elsewhere/notes.txt");
    char *journal = path_in("elsewhere/journal");
    char *scratch = path_in("elsewhere/scratch");
    tu_write_file(foreign, "mine", 4);
    tu_write_file(scratch, "s", 1);
    tu_write_file(journal, "j", 1);
    cr_assert_eq(delta_dir_store_open(target, &store, &s), DELTA_ERR_INPUT);
    cr_assert(strstr(delta_last_error(), "not a libdelta state directory") != NULL, "%s", delta_last_error());
    cr_assert(exists(foreign) && exists(scratch) && exists(journal), "nothing deleted");
    cr_assert_eq(unlink(foreign), 0);

    /* Writable by others: refused. */
    cr_assert_eq(chmod(target, 0777), 0);
    cr_assert_eq(delta_dir_store_open(target, &store, &s), DELTA_ERR_INPUT);
    cr_assert_eq(chmod(target, 0700), 0);

    /* Ours (only our names): accepted, and opening deletes nothing. */
    cr_assert_eq(delta_dir_store_open(target, &store, &s), DELTA_OK, "%s", delta_last_error());
    cr_assert(exists(scratch) && exists(journal));
    delta_dir_store_close(s);
    free(target);
    free(link);
    free(file);
    free(foreign);
    free(journal);
    free(scratch);
}

Test(fileio, map_of_an_empty_and_a_non_empty_file)
{
    char *empty = path_in("empty.bin");
    char *full = path_in("full.bin");
    tu_write_file(empty, "", 0);
    uint8_t data[12345];
    tu_fill_random(data, sizeof data, 7);
    tu_write_file(full, data, sizeof data);

    const uint8_t *p = (const uint8_t *)1;
    size_t len = 1;
    delta_file *f = NULL;
    cr_assert_eq(delta_file_map(empty, &p, &len, &f), DELTA_OK);
    cr_assert_null(p);
    cr_assert_eq(len, 0);
    delta_file_close(f);

    cr_assert_eq(delta_file_map(full, &p, &len, &f), DELTA_OK);
    cr_assert_not_null(f);
    cr_assert_eq(len, sizeof data);
    cr_assert_arr_eq(p, data, sizeof data);
    delta_file_close(f);

    cr_assert_eq(delta_file_map(dir, &p, &len, &f), DELTA_ERR_INPUT, "a directory");
    free(empty);
    free(full);
}

Test(fileio, map_of_a_pipe_reads_it)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    cr_assert_eq(write(fds[1], "through a pipe", 14), 14);
    close(fds[1]);
    char path[64];
    snprintf(path, sizeof path, "/dev/fd/%d", fds[0]);
    const uint8_t *p;
    size_t len;
    delta_file *f;
    cr_assert_eq(delta_file_map(path, &p, &len, &f), DELTA_OK);
    cr_assert_eq(len, 14);
    cr_assert_arr_eq(p, "through a pipe", 14);
    delta_file_close(f);
    close(fds[0]);
}

Test(fileio, read_all_reads_whole_files_within_the_limit)
{
    char *p = path_in("small.json");
    uint8_t data[100000];
    tu_fill_random(data, sizeof data, 8);
    tu_write_file(p, data, sizeof data);

    delta_buf buf = DELTA_BUF_INIT;
    cr_assert_eq(delta_buf_append(&buf, "stale", 5), DELTA_OK);
    cr_assert_eq(delta_file_read_all(p, sizeof data, &buf), DELTA_OK);
    cr_assert_eq(buf.len, sizeof data, "replaces the buffer's contents");
    cr_assert_arr_eq(buf.data, data, sizeof data);

    cr_assert_eq(delta_file_read_all(p, sizeof data - 1, &buf), DELTA_ERR_LIMIT);
    cr_assert(strstr(delta_last_error(), p) != NULL);
    delta_buf_free(&buf);

    char *empty = path_in("empty");
    tu_write_file(empty, "", 0);
    cr_assert_eq(delta_file_read_all(empty, 0, &buf), DELTA_OK);
    cr_assert_eq(buf.len, 0);
    delta_buf_free(&buf);
    free(empty);
    free(p);
}

Test(fileio, a_failed_journal_write_leaves_no_temporary_and_the_old_journal)
{
    char *sd = path_in("state");
    char *journal = path_in("state/journal");
    char *tmp = path_in("state/journal.tmp");
    delta_store store;
    delta_dir_store *s;
    cr_assert_eq(delta_dir_store_open(sd, &store, &s), DELTA_OK);
    cr_assert_eq(store.journal_write(store.ctx, "old", 3), DELTA_IO_OK);
    cr_assert_eq(unlink(journal), 0);
    /* A directory in the journal's place makes the rename fail. */
    cr_assert_eq(mkdir(journal, 0700), 0);
    cr_assert_eq(store.journal_write(store.ctx, "new", 3), DELTA_IO_ERROR);
    cr_assert_not(exists(tmp));
    struct stat st;
    cr_assert_eq(stat(journal, &st), 0);
    cr_assert(S_ISDIR(st.st_mode));
    cr_assert_eq(delta_dir_store_has_journal(sd), 0, "a directory is not a journal");
    size_t len = 7;
    uint8_t buf[8];
    cr_assert_eq(store.journal_read(store.ctx, buf, sizeof buf, &len), DELTA_IO_ERROR);
    cr_assert_eq(len, 0);
    cr_assert_eq(rmdir(journal), 0);
    cr_assert_eq(store.journal_remove(store.ctx), DELTA_IO_OK);
    delta_dir_store_close(s);
    free(sd);
    free(journal);
    free(tmp);
}

Test(fileio, a_full_device_is_nospace)
{
    delta_sink sink;
    delta_file *f;
    cr_assert_eq(delta_file_sink_open("/dev/full", &sink, &f), DELTA_OK);
    cr_assert_eq(sink.write(sink.ctx, 0, "x", 1), DELTA_IO_NOSPACE);
    delta_file_close(f);
}

/* ---- FIFOs and devices where a file is expected -------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A FIFO with no writer used to block open() forever; a source must be
 * read at random offsets, which no pipe, FIFO or character device allows. */
Test(fileio, fifo_and_device_sources_are_refused_at_once, .timeout = 10)
{
    char *fifo = path_in("fifo");
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    char pipe_path[64];
    snprintf(pipe_path, sizeof pipe_path, "/dev/fd/%d", fds[0]);
    const char *paths[] = {fifo, pipe_path, "/dev/null"};
    for (size_t i = 0; i < 3; i++) {
        delta_source src;
        delta_file *f = (delta_file *)1;
        double t0 = now_s();
        delta_status st = delta_file_source_open(paths[i], &src, &f);
        double took = now_s() - t0;
        cr_assert_eq(st, DELTA_ERR_INPUT, "%s: %d (%s)", paths[i], st, delta_last_error());
        cr_assert_null(f);
        char want[600];
        snprintf(want, sizeof want, "%s: not a regular file or block device", paths[i]);
        cr_assert_str_eq(delta_last_error(), want);
        cr_assert_lt(took, 2.0, "%s: took %.1f s", paths[i], took);
    }
    close(fds[0]);
    close(fds[1]);
    free(fifo);
}

/* map (mkdelta's inputs) and read_all (keys) still read pipes to their end;
 * on a FIFO nobody writes to they return at once with what there is:
 * nothing. */
Test(fileio, map_and_read_all_of_a_fifo_without_writer_return_at_once, .timeout = 10)
{
    char *fifo = path_in("fifo");
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    double t0 = now_s();
    const uint8_t *data = (const uint8_t *)1;
    size_t len = 1;
    delta_file *f = NULL;
    cr_assert_eq(delta_file_map(fifo, &data, &len, &f), DELTA_OK, "%s", delta_last_error());
    cr_assert_eq(len, 0);
    cr_assert_null(data);
    delta_file_close(f);
    delta_buf buf = DELTA_BUF_INIT;
    cr_assert_eq(delta_file_read_all(fifo, 100, &buf), DELTA_OK, "%s", delta_last_error());
    cr_assert_eq(buf.len, 0);
    delta_buf_free(&buf);
    cr_assert_lt(now_s() - t0, 2.0);
    free(fifo);
}

/* Opens fifo with a writer that has written msg and holds the write end
 * open for 200 ms more (a child process); *holder keeps a reader so the
 * buffered bytes survive until the code under test opens its own. */
static pid_t fifo_with_writer(const char *fifo, const char *msg, int *holder)
{
    *holder = open(fifo, O_RDONLY | O_NONBLOCK);
    cr_assert_geq(*holder, 0);
    int w = open(fifo, O_WRONLY);
    cr_assert_geq(w, 0);
    cr_assert_eq(write(w, msg, strlen(msg)), (ssize_t)strlen(msg));
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        usleep(200000);
        _exit(0); /* closes the write end: the reader sees the end */
    }
    close(w);
    return pid;
}

Test(fileio, map_and_read_all_of_a_fifo_with_a_writer_read_it_to_the_end, .timeout = 10)
{
    char *fifo = path_in("fifo");
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    int holder;
    pid_t pid = fifo_with_writer(fifo, "through a fifo", &holder);
    const uint8_t *data;
    size_t len;
    delta_file *f = NULL;
    cr_assert_eq(delta_file_map(fifo, &data, &len, &f), DELTA_OK, "%s", delta_last_error());
    cr_assert_eq(len, 14);
    cr_assert_arr_eq(data, "through a fifo", 14);
    delta_file_close(f);
    cr_assert_eq(waitpid(pid, NULL, 0), pid);
    close(holder);

    pid = fifo_with_writer(fifo, "-----BEGIN PUBLIC KEY-----\n", &holder);
    delta_buf buf = DELTA_BUF_INIT;
    cr_assert_eq(delta_file_read_all(fifo, 1000, &buf), DELTA_OK, "%s", delta_last_error());
    cr_assert_eq(buf.len, 27);
    cr_assert_arr_eq(buf.data, "-----BEGIN PUBLIC KEY-----\n", 27);
    delta_buf_free(&buf);
    cr_assert_eq(waitpid(pid, NULL, 0), pid);
    close(holder);
    free(fifo);
}
