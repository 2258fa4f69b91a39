/*
** astro_bench.cpp — one-run benchmark of libastrocyte against its anchors:
** FAISS IndexFlatIP and IndexScalarQuantizer(QT_8bit), hnswlib (M=16,
** efConstruction=200) and SQLite FTS5 bm25(). Data is generated once per run:
** clustered unit float32 vectors and a Zipf text corpus. Everything runs on
** one thread, one query at a time. It also measures the streaming read
** bandwidth of this machine in the same run, so the flat-search figures can be
** read against the memory limit. Prints a table, or with --json an object
** {"results":[{name, ours, anchor, ratio, recall_at_10, ...}], ...}.
*/
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <fcntl.h>
#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <omp.h>
#include <faiss/IndexFlat.h>
#include <faiss/IndexScalarQuantizer.h>
#include <hnswlib/hnswlib.h>
#include <sqlite3.h>

extern "C" {
#include "astro/bm25.h"
#include "astro/flat_i8.h"
#include "astro/hnsw.h"
#include "astro/kernels.h"
#include "astro/vec.h"
}

using clk = std::chrono::steady_clock;
static double now_s() { return std::chrono::duration<double>(clk::now().time_since_epoch()).count(); }

struct Opts {
    size_t n = 100000, dim = 384, nq = 1000, docs = 100000, hnsw_n = 0;
    bool quick = false, json = false;
};

/* Latency statistics of one measured loop. */
struct Lat {
    double qps = 0, p50_us = 0, p99_us = 0;
};
static Lat stats(std::vector<double> &t) {
    Lat l;
    double sum = 0;
    for (double x : t) sum += x;
    std::sort(t.begin(), t.end());
    l.qps = t.size() / sum;
    l.p50_us = t[t.size() / 2] * 1e6;
    l.p99_us = t[std::min(t.size() - 1, t.size() * 99 / 100)] * 1e6;
    return l;
}

struct Row {
    std::string name, metric;
    double ours, anchor, recall_ours, recall_anchor;
    Lat lo, la;
    double build_ours, build_anchor, bpv_ours, bpv_anchor;
    std::string note;
};
static std::vector<Row> rows;

/* ---- data ------------------------------------------------------------------ */

/* Clustered unit vectors: nc gaussian centres, points = centre + noise. */
static void make_vectors(size_t n, size_t nq, size_t d, std::vector<float> &x, std::vector<float> &q) {
    std::mt19937_64 g(42);
    std::normal_distribution<float> nd(0.f, 1.f);
    size_t nc = std::max<size_t>(16, (size_t)std::sqrt((double)n));
    std::vector<float> c(nc * d);
    for (auto &v : c) v = nd(g);
    auto gen = [&](float *out) {
        size_t ci = g() % nc;
        double s = 0;
        for (size_t j = 0; j < d; j++) {
            out[j] = c[ci * d + j] + 2.0f * nd(g);
            s += (double)out[j] * out[j];
        }
        float inv = (float)(1.0 / std::sqrt(s));
        for (size_t j = 0; j < d; j++) out[j] *= inv;
    };
    x.resize(n * d);
    q.resize(nq * d);
    for (size_t i = 0; i < n; i++) gen(&x[i * d]);
    for (size_t i = 0; i < nq; i++) gen(&q[i * d]);
}

/* Zipf corpus over a synthetic vocabulary of consonant-vowel words (none is a
 * stopword or stems differently, and FTS5 sees the same tokens). */
static void make_corpus(size_t ndocs, size_t nq, std::vector<std::string> &docs, std::vector<std::string> &qs,
                        std::vector<std::string> &qs_fts) {
    const size_t V = 30000;
    const char *cons = "bcdfghjkmnprtvz", *vow = "aeiou";
    std::vector<std::string> vocab(V);
    for (size_t i = 0; i < V; i++) {
        size_t x = i + 75 * 76;   /* at least 3 syllables: 6+ letters */
        std::string w;
        while (x) {
            size_t s = x % 75;
            x /= 75;
            w += cons[s / 5];
            w += vow[s % 5];
        }
        vocab[i] = w;
    }
    std::vector<double> cdf(V);
    double acc = 0;
    for (size_t i = 0; i < V; i++) cdf[i] = acc += 1.0 / std::pow((double)(i + 1), 1.1);
    for (auto &v : cdf) v /= acc;
    std::mt19937_64 g(7);
    std::uniform_real_distribution<double> u(0, 1);
    docs.resize(ndocs);
    for (size_t i = 0; i < ndocs; i++) {
        size_t len = 30 + g() % 41;
        std::string &s = docs[i];
        for (size_t t = 0; t < len; t++) {
            size_t w = std::lower_bound(cdf.begin(), cdf.end(), u(g)) - cdf.begin();
            if (w >= V) w = V - 1;
            if (t) s += ' ';
            s += vocab[w];
        }
    }
    for (size_t i = 0; i < nq; i++) {
        size_t nt = 2 + g() % 3;
        std::string a, b;
        for (size_t t = 0; t < nt; t++) {
            const std::string &w = vocab[100 + g() % 2900];   /* mid-frequency ranks */
            a += (t ? " " : "") + w;
            b += (t ? " OR " : "") + w;
        }
        qs.push_back(a);
        qs_fts.push_back(b);
    }
}

/* ---- helpers --------------------------------------------------------------- */

/* Streaming read bandwidth: dot of a 1 GiB buffer against a cached vector
 * with the dispatched kernel; best of 3 passes, GB/s. */
static double bandwidth_gbs() {
    const size_t n = (size_t)1 << 28, chunk = 4096;   /* 1 GiB of floats */
    float *buf = (float *)aligned_alloc(64, n * sizeof(float));
    std::vector<float> ones(chunk, 1.0f);
    for (size_t i = 0; i < n; i++) buf[i] = (float)(i & 7);
    const astro_kernels *k = astro_kernels_best();
    double best = 0, sink = 0;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now_s();
        float s = 0;
        for (size_t i = 0; i < n; i += chunk) s += k->dot(buf + i, ones.data(), chunk);
        double dt = now_s() - t0;
        sink += s;
        best = std::max(best, n * 4.0 / dt / 1e9);
    }
    if (sink == 42) std::puts("");
    free(buf);
    return best;
}

/* recall@10 of got (nq x 10, fewer allowed) against truth (nq x 10). */
static double recall10(const std::vector<int64_t> &got, const std::vector<int64_t> &truth, size_t nq) {
    size_t hit = 0;
    for (size_t q = 0; q < nq; q++)
        for (size_t a = 0; a < 10; a++)
            for (size_t b = 0; b < 10; b++) hit += got[q * 10 + a] >= 0 && got[q * 10 + a] == truth[q * 10 + b];
    return (double)hit / (nq * 10.0);
}

static void die(const char *what, const char *msg) {
    std::fprintf(stderr, "bench: %s: %s\n", what, msg);
    std::exit(1);
}

/* ---- vector benchmarks ----------------------------------------------------- */

static void bench_flat(const Opts &o, const std::vector<float> &x, const std::vector<float> &q,
                       std::vector<int64_t> &truth, double bw) {
    size_t n = o.n, d = o.dim, nq = o.nq;
    astro_err err;
    astro_flat *fl = nullptr;
    double t0 = now_s();
    if (astro_flat_new(d, &fl, &err)) die("flat", err.msg);
    for (size_t i = 0; i < n; i++)
        if (astro_flat_add(fl, i, &x[i * d], d, nullptr, &err)) die("flat add", err.msg);
    double b_ours = now_s() - t0;
    truth.assign(nq * 10, -1);
    std::vector<double> t(nq);
    uint64_t keys[10];
    float sc[10];
    for (size_t i = 0; i < nq; i++) {
        double s = now_s();
        long r = astro_flat_search(fl, &q[i * d], d, 10, nullptr, keys, sc, &err);
        t[i] = now_s() - s;
        for (long j = 0; j < r; j++) truth[i * 10 + j] = (int64_t)keys[j];
    }
    Lat lo = stats(t);
    size_t bytes = astro_flat_bytes(fl);
    astro_flat_free(fl);

    t0 = now_s();
    faiss::IndexFlatIP fi((faiss::Index::idx_t)d);
    fi.add((faiss::Index::idx_t)n, x.data());
    double b_anchor = now_s() - t0;
    std::vector<int64_t> got(nq * 10);
    std::vector<float> dist(10);
    for (size_t i = 0; i < nq; i++) {
        double s = now_s();
        fi.search(1, &q[i * d], 10, dist.data(), (faiss::Index::idx_t *)&got[i * 10]);
        t[i] = now_s() - s;
    }
    Lat la = stats(t);
    double eff = n * d * 4.0 * lo.qps / 1e9;
    char note[160];
    std::snprintf(note, sizeof note, "ours reads %.1f GB/s = %.2f of the %.1f GB/s streaming limit", eff, eff / bw, bw);
    rows.push_back({"flat_f32_vs_faiss_flat", "qps", lo.qps, la.qps, 1.0, recall10(got, truth, nq), lo, la, b_ours,
                    b_anchor, (double)bytes / n, d * 4.0, note});
}

/* Anonymous resident bytes of this process (RssAnon, /proc/self/status). */
static double rss_anon() {
    FILE *f = std::fopen("/proc/self/status", "r");
    char line[256];
    double kb = 0;
    while (f && std::fgets(line, sizeof line, f))
        if (std::sscanf(line, "RssAnon: %lf kB", &kb) == 1) break;
    if (f) std::fclose(f);
    return kb * 1024.0;
}

/* Bytes malloc has handed out and not yet taken back (heap + mmapped). */
static double heap_in_use() {
    struct mallinfo2 m = mallinfo2();
    return (double)m.uordblks + (double)m.hblkhd;
}

/* The stored float32 vectors the int8 index rescores from: a memory-mapped
 * file (page cache, not the index's memory). */
struct Mapped {
    const float *base = nullptr;
    size_t bytes = 0;
    int fd = -1;
};
static const float *fetch_mapped(void *user, uint64_t key, float *, size_t dim) {
    const Mapped *m = (const Mapped *)user;
    return (key + 1) * dim * sizeof(float) <= m->bytes ? m->base + key * dim : nullptr;
}
static Mapped map_vectors(const std::vector<float> &x) {
    Mapped m;
    char path[] = "/tmp/astro_bench_vecXXXXXX";
    m.fd = mkstemp(path);
    if (m.fd < 0) die("mkstemp", path);
    unlink(path);
    m.bytes = x.size() * sizeof(float);
    for (size_t off = 0; off < m.bytes;) {
        ssize_t w = write(m.fd, (const char *)x.data() + off, m.bytes - off);
        if (w <= 0) die("write", "vector file");
        off += (size_t)w;
    }
    void *p = mmap(nullptr, m.bytes, PROT_READ, MAP_SHARED, m.fd, 0);
    if (p == MAP_FAILED) die("mmap", "vector file");
    m.base = (const float *)p;
    return m;
}

static void bench_flat_i8(const Opts &o, const std::vector<float> &x, const std::vector<float> &q,
                          const std::vector<int64_t> &truth) {
    size_t n = o.n, d = o.dim, nq = o.nq;
    astro_err err;
    astro_flat_i8 *ix = nullptr;
    astro_flat_i8_ctx *ctx = nullptr;
    Mapped mv = map_vectors(x);
    double rss0 = rss_anon(), heap0 = heap_in_use();
    double t0 = now_s();
    if (astro_flat_i8_new(d, 4, &ix, &err)) die("flat_i8", err.msg);
    for (size_t i = 0; i < n; i++)
        if (astro_flat_i8_add(ix, i, &x[i * d], d, nullptr, &err)) die("flat_i8 add", err.msg);
    double b_ours = now_s() - t0;
    double rss_pv = (rss_anon() - rss0) / n, heap_pv = (heap_in_use() - heap0) / n;
    if (astro_flat_i8_ctx_new(ix, 10, &ctx, &err)) die("flat_i8 ctx", err.msg);
    std::vector<int64_t> got(nq * 10, -1);
    std::vector<double> t(nq);
    uint64_t keys[10];
    float sc[10];
    for (size_t i = 0; i < nq; i++) {
        double s = now_s();
        long r = astro_flat_i8_search(ix, ctx, &q[i * d], d, 10, nullptr, fetch_mapped, &mv, keys, sc, &err);
        t[i] = now_s() - s;
        if (r < 0) die("flat_i8 search", err.msg);
        for (long j = 0; j < r; j++) got[i * 10 + j] = (int64_t)keys[j];
    }
    Lat lo = stats(t);
    double r_ours = recall10(got, truth, nq);
    size_t bytes = astro_flat_i8_bytes(ix);
    astro_flat_i8_ctx_free(ctx);
    astro_flat_i8_free(ix);
    munmap((void *)mv.base, mv.bytes);
    close(mv.fd);
    char note[200];
    std::snprintf(note, sizeof note,
                  "ours: int8 scan + exact rescoring of 4k candidates from a mapped file; B/vec measured: "
                  "heap %.0f, RssAnon %.0f",
                  heap_pv, rss_pv);

    t0 = now_s();
    faiss::IndexScalarQuantizer sq((faiss::Index::idx_t)d, faiss::ScalarQuantizer::QT_8bit, faiss::METRIC_INNER_PRODUCT);
    sq.train((faiss::Index::idx_t)n, x.data());
    sq.add((faiss::Index::idx_t)n, x.data());
    double b_anchor = now_s() - t0;
    std::vector<float> dist(10);
    size_t nqa = o.quick ? std::min<size_t>(nq, 50) : std::min<size_t>(nq, 200);   /* the anchor is slow */
    std::vector<double> ta(nqa);
    for (size_t i = 0; i < nqa; i++) {
        double s = now_s();
        sq.search(1, &q[i * d], 10, dist.data(), (faiss::Index::idx_t *)&got[i * 10]);
        ta[i] = now_s() - s;
    }
    Lat la = stats(ta);
    rows.push_back({"flat_i8_vs_faiss_sq8", "qps", lo.qps, la.qps, r_ours, recall10(got, truth, nqa), lo, la, b_ours,
                    b_anchor, (double)bytes / n, (double)sq.code_size, note});
}

struct Curve {
    std::vector<size_t> ef;
    std::vector<double> recall, qps;
    std::vector<Lat> lat;
};

/* Returns log-linear interpolated qps of curve c at recall r, or -1 if r is
 * outside the curve's range. */
static double qps_at(const Curve &c, double r) {
    for (size_t i = 0; i + 1 < c.recall.size(); i++) {
        double r0 = c.recall[i], r1 = c.recall[i + 1];
        if (r >= r0 && r <= r1) {
            double w = r1 > r0 ? (r - r0) / (r1 - r0) : 0;
            return std::exp(std::log(c.qps[i]) * (1 - w) + std::log(c.qps[i + 1]) * w);
        }
    }
    if (!c.recall.empty() && std::fabs(r - c.recall.back()) < 1e-9) return c.qps.back();
    return -1;
}

static void bench_hnsw(const Opts &o, const std::vector<float> &x, const std::vector<float> &q,
                       const std::vector<int64_t> &truth_full) {
    size_t n = o.hnsw_n, d = o.dim, nq = o.nq;
    std::vector<int64_t> truth = truth_full;
    if (n != o.n) {   /* ground truth over the subset */
        astro_flat *fl = nullptr;
        astro_err err;
        astro_flat_new(d, &fl, &err);
        for (size_t i = 0; i < n; i++) astro_flat_add(fl, i, &x[i * d], d, nullptr, &err);
        uint64_t keys[10];
        float sc[10];
        for (size_t i = 0; i < nq; i++) {
            long r = astro_flat_search(fl, &q[i * d], d, 10, nullptr, keys, sc, &err);
            for (long j = 0; j < 10; j++) truth[i * 10 + j] = j < r ? (int64_t)keys[j] : -1;
        }
        astro_flat_free(fl);
    }
    static const size_t efs[] = { 10, 16, 24, 32, 48, 64, 96, 128, 192, 256 };
    astro_err err;
    astro_hnsw *ix = nullptr;
    astro_hnsw_ctx *ctx = nullptr;
    astro_hnsw_opts ho;
    astro_hnsw_opts_init(&ho);
    double t0 = now_s();
    if (astro_hnsw_new(d, &ho, &ix, &err) || astro_hnsw_reserve(ix, n, &err)) die("hnsw", err.msg);
    for (size_t i = 0; i < n; i++)
        if (astro_hnsw_add(ix, i, &x[i * d], d, nullptr, &err)) die("hnsw add", err.msg);
    double b_ours = now_s() - t0;
    if (astro_hnsw_ctx_new(ix, &ctx, &err)) die("hnsw ctx", err.msg);

    hnswlib::InnerProductSpace space(d);
    t0 = now_s();
    hnswlib::HierarchicalNSW<float> hl(&space, n, 16, 200, 100);
    for (size_t i = 0; i < n; i++) hl.addPoint(&x[i * d], i);
    double b_anchor = now_s() - t0;

    Curve co, ca;
    std::vector<int64_t> got(nq * 10);
    std::vector<double> t(nq);
    for (size_t ef : efs) {
        uint64_t keys[10];
        float sc[10];
        std::fill(got.begin(), got.end(), -1);
        for (size_t i = 0; i < nq; i++) {
            double s = now_s();
            long r = astro_hnsw_search(ix, ctx, &q[i * d], d, 10, ef, nullptr, keys, sc, &err);
            t[i] = now_s() - s;
            for (long j = 0; j < r; j++) got[i * 10 + j] = (int64_t)keys[j];
        }
        Lat l = stats(t);
        co.ef.push_back(ef), co.recall.push_back(recall10(got, truth, nq)), co.qps.push_back(l.qps), co.lat.push_back(l);
        hl.setEf(ef);
        std::fill(got.begin(), got.end(), -1);
        for (size_t i = 0; i < nq; i++) {
            double s = now_s();
            auto res = hl.searchKnn(&q[i * d], 10);
            t[i] = now_s() - s;
            size_t j = res.size();
            while (!res.empty()) {
                if (--j < 10) got[i * 10 + j] = (int64_t)res.top().second;
                res.pop();
            }
        }
        l = stats(t);
        ca.ef.push_back(ef), ca.recall.push_back(recall10(got, truth, nq)), ca.qps.push_back(l.qps), ca.lat.push_back(l);
    }
    /* Equal-recall comparison: the common target nearest to 0.95. */
    double lo = std::max(co.recall.front(), ca.recall.front()), hi = std::min(co.recall.back(), ca.recall.back());
    double target = std::min(std::max(0.95, lo), hi);
    double qo = qps_at(co, target), qa = qps_at(ca, target);
    if (!o.json) {
        std::printf("\nHNSW sweep (n=%zu, M=16, efC=200)   build: ours %.2fs, hnswlib %.2fs\n", n, b_ours, b_anchor);
        std::printf("%5s | %10s %8s %9s | %10s %8s %9s\n", "ef", "ours qps", "recall", "p99 us", "hnswlib", "recall", "p99 us");
        for (size_t i = 0; i < co.ef.size(); i++)
            std::printf("%5zu | %10.0f %8.4f %9.1f | %10.0f %8.4f %9.1f\n", co.ef[i], co.qps[i], co.recall[i],
                        co.lat[i].p99_us, ca.qps[i], ca.recall[i], ca.lat[i].p99_us);
    }
    size_t k64 = 5;   /* ef=64 row for the latency columns */
    char note[160];
    std::snprintf(note, sizeof note, "qps interpolated at equal recall@10 %.4f; build ours %.2fs vs %.2fs", target, b_ours, b_anchor);
    rows.push_back({"hnsw_vs_hnswlib", "qps@recall", qo, qa, target, target, co.lat[k64], ca.lat[k64], b_ours, b_anchor,
                    (double)astro_hnsw_bytes(ix) / n, (double)(hl.size_data_per_element_ + sizeof(void *)), note});
    astro_hnsw_ctx_free(ctx);
    astro_hnsw_free(ix);
}

/* ---- BM25 vs FTS5 ------------------------------------------------------------ */

static void bench_bm25(const Opts &o) {
    std::vector<std::string> docs, qs, qf;
    make_corpus(o.docs, o.nq, docs, qs, qf);
    size_t nd = docs.size(), nq = qs.size();
    astro_err err;
    astro_bm25_opts bo;
    astro_bm25_opts_init(&bo);
    bo.tok.stem = 0;
    bo.tok.stopwords = 0;
    astro_bm25 *bm = nullptr;
    if (astro_bm25_new(&bo, &bm, &err)) die("bm25", err.msg);
    double t0 = now_s();
    for (size_t i = 0; i < nd; i++)
        if (astro_bm25_add(bm, i + 1, docs[i].data(), docs[i].size(), nullptr, &err)) die("bm25 add", err.msg);
    double b_ours = now_s() - t0;

    sqlite3 *db = nullptr;
    sqlite3_stmt *ins = nullptr, *sel = nullptr;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK) die("sqlite", "open");
    if (sqlite3_exec(db, "CREATE VIRTUAL TABLE t USING fts5(body)", nullptr, nullptr, nullptr) != SQLITE_OK)
        die("sqlite", sqlite3_errmsg(db));
    sqlite3_prepare_v2(db, "INSERT INTO t(rowid, body) VALUES(?, ?)", -1, &ins, nullptr);
    t0 = now_s();
    sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
    for (size_t i = 0; i < nd; i++) {
        sqlite3_bind_int64(ins, 1, (sqlite3_int64)(i + 1));
        sqlite3_bind_text(ins, 2, docs[i].data(), (int)docs[i].size(), SQLITE_STATIC);
        if (sqlite3_step(ins) != SQLITE_DONE) die("sqlite insert", sqlite3_errmsg(db));
        sqlite3_reset(ins);
    }
    sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
    double b_anchor = now_s() - t0;
    sqlite3_prepare_v2(db, "SELECT rowid FROM t WHERE t MATCH ? ORDER BY bm25(t) LIMIT 10", -1, &sel, nullptr);

    std::vector<int64_t> got(nq * 10, -1), ref(nq * 10, -1);
    std::vector<double> t(nq);
    uint64_t keys[10];
    float sc[10];
    for (size_t i = 0; i < nq; i++) {
        double s = now_s();
        long r = astro_bm25_search(bm, qs[i].data(), qs[i].size(), 10, nullptr, keys, sc, &err);
        t[i] = now_s() - s;
        for (long j = 0; j < r; j++) got[i * 10 + j] = (int64_t)keys[j];
    }
    Lat lo = stats(t);
    for (size_t i = 0; i < nq; i++) {
        double s = now_s();
        sqlite3_bind_text(sel, 1, qf[i].data(), (int)qf[i].size(), SQLITE_STATIC);
        size_t j = 0;
        while (sqlite3_step(sel) == SQLITE_ROW)
            if (j < 10) ref[i * 10 + j++] = sqlite3_column_int64(sel, 0);
        sqlite3_reset(sel);
        t[i] = now_s() - s;
    }
    Lat la = stats(t);
    double overlap = recall10(got, ref, nq);
    rows.push_back({"bm25_vs_fts5", "qps", lo.qps, la.qps, overlap, 1.0, lo, la, b_ours, b_anchor,
                    (double)astro_bm25_bytes(bm) / nd, 0, "recall column: top-10 overlap with FTS5 (idf formulas differ)"});
    Lat none;
    rows.push_back({"bm25_index_vs_fts5", "docs/s", nd / b_ours, nd / b_anchor, -1, -1, none, none, b_ours, b_anchor,
                    0, 0, "indexing rate, one transaction for FTS5"});
    sqlite3_finalize(ins);
    sqlite3_finalize(sel);
    sqlite3_close(db);
    astro_bm25_free(bm);
}

/* ---- main ---------------------------------------------------------------------- */

int main(int argc, char **argv) {
    Opts o;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        auto num = [&](size_t &v) {
            if (i + 1 >= argc) die("args", ("missing value for " + a).c_str());
            v = std::strtoull(argv[++i], nullptr, 10);
        };
        if (a == "--quick") o.quick = true;
        else if (a == "--json") o.json = true;
        else if (a == "--n") num(o.n);
        else if (a == "--dim") num(o.dim);
        else if (a == "--nq") num(o.nq);
        else if (a == "--docs") num(o.docs);
        else if (a == "--hnsw-n") num(o.hnsw_n);
        else die("args", ("unknown argument " + a + " (use --quick --json --n --dim --nq --docs --hnsw-n)").c_str());
    }
    if (o.quick) {
        bool nset = false;
        for (int i = 1; i < argc; i++) nset |= std::string(argv[i]) == "--n";
        if (!nset) o.n = 50000;
        o.nq = std::min<size_t>(o.nq, 300);
        o.docs = std::min<size_t>(o.docs, 30000);
        if (!o.hnsw_n) o.hnsw_n = std::min<size_t>(o.n, 20000);
    }
    if (!o.hnsw_n || o.hnsw_n > o.n) o.hnsw_n = o.n;
    omp_set_num_threads(1);

    double bw = bandwidth_gbs();
    std::vector<float> x, q;
    make_vectors(o.n, o.nq, o.dim, x, q);
    std::vector<int64_t> truth;
    bench_flat(o, x, q, truth, bw);
    bench_flat_i8(o, x, q, truth);
    bench_hnsw(o, x, q, truth);
    bench_bm25(o);

    if (o.json) {
        std::printf("{\"machine\":{\"isa\":\"%s\",\"bandwidth_gbs\":%.2f},\"n\":%zu,\"dim\":%zu,\"hnsw_n\":%zu,\"docs\":%zu,\"results\":[",
                    astro_kernels_best()->name, bw, o.n, o.dim, o.hnsw_n, o.docs);
        for (size_t i = 0; i < rows.size(); i++) {
            const Row &r = rows[i];
            std::printf("%s{\"name\":\"%s\",\"metric\":\"%s\",\"ours\":%.2f,\"anchor\":%.2f,\"ratio\":%.3f,", i ? "," : "",
                        r.name.c_str(), r.metric.c_str(), r.ours, r.anchor, r.ours / r.anchor);
            if (r.recall_ours >= 0) std::printf("\"recall_at_10\":%.4f,\"anchor_recall_at_10\":%.4f,", r.recall_ours, r.recall_anchor);
            std::printf("\"p50_us\":[%.1f,%.1f],\"p99_us\":[%.1f,%.1f],\"build_s\":[%.3f,%.3f],\"bytes_per_item\":[%.1f,%.1f],\"note\":\"%s\"}",
                        r.lo.p50_us, r.la.p50_us, r.lo.p99_us, r.la.p99_us, r.build_ours, r.build_anchor, r.bpv_ours,
                        r.bpv_anchor, r.note.c_str());
        }
        std::printf("]}\n");
        return 0;
    }
    std::printf("\nastro_bench: n=%zu dim=%zu nq=%zu hnsw_n=%zu docs=%zu, 1 thread, kernels=%s, streaming read %.1f GB/s\n\n",
                o.n, o.dim, o.nq, o.hnsw_n, o.docs, astro_kernels_best()->name, bw);
    std::printf("%-22s %12s %12s %7s | %7s %7s | %9s %9s | %9s %9s | %8s %8s | %8s %8s\n", "name", "ours", "anchor", "ratio",
                "rec ours", "rec anc", "p50us o", "p50us a", "p99us o", "p99us a", "build o", "build a", "B/vec o", "B/vec a");
    for (const Row &r : rows)
        std::printf("%-22s %12.1f %12.1f %7.2f | %7.4f %7.4f | %9.1f %9.1f | %9.1f %9.1f | %8.2f %8.2f | %8.0f %8.0f\n",
                    r.name.c_str(), r.ours, r.anchor, r.ours / r.anchor, r.recall_ours, r.recall_anchor, r.lo.p50_us,
                    r.la.p50_us, r.lo.p99_us, r.la.p99_us, r.build_ours, r.build_anchor, r.bpv_ours, r.bpv_anchor);
    std::printf("\n");
    for (const Row &r : rows) std::printf("  %-22s %s\n", r.name.c_str(), r.note.c_str());
    return 0;
}
