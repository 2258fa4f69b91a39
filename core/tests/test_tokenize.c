/*
** test_tokenize.c — the shared tokenizer (splitting, case folding, stopwords,
** Porter stemming, truncation at UTF-8 boundaries, early stop) and the LLM
** token estimate.
*/
#include <stdio.h>
#include <string.h>

#include "astro/text.h"
#include "../src/internal.h"
#include "check.h"

typedef struct collect {
    char text[1024];   /* terms joined by single spaces */
    size_t n;
    size_t stop_after;
    size_t off[64];
    size_t len[64];
} collect;

/* Appends the term to the collector; stops when stop_after is reached. */
static int on_tok(const astro_token *t, void *ud) {
    collect *c = ud;
    size_t l = strlen(c->text);
    if (l) c->text[l++] = ' ';
    memcpy(c->text + l, t->term, t->term_len);
    c->text[l + t->term_len] = '\0';
    if (c->n < 64) {
        c->off[c->n] = t->src_off;
        c->len[c->n] = t->src_len;
    }
    c->n++;
    return c->stop_after && c->n >= c->stop_after;
}

/* Tokenizes s with tk and returns the joined terms in c. */
static const char *tok(astro_tokenizer *tk, const char *s, collect *c) {
    memset(c, 0, sizeof *c);
    size_t n = astro_tokenize(tk, s, strlen(s), on_tok, c);
    if (n != c->n) return "<count mismatch>";
    return c->text;
}

/* Returns the stem of a single word under the default tokenizer. */
static int stems_to(astro_tokenizer *tk, const char *w, const char *want) {
    collect c;
    return strcmp(tok(tk, w, &c), want) == 0;
}

int main(void) {
    astro_tokenizer *plain = NULL, *def = NULL, *tiny = NULL;
    astro_err err;
    astro_tokenizer_opts po = { 0, 0, 0 };
    CHECK("tok-1.0", astro_tokenizer_new(&po, &plain, &err) == ASTRO_OK);
    CHECK("tok-1.1", astro_tokenizer_new(NULL, &def, &err) == ASTRO_OK);
    astro_tokenizer_opts to = { 0, 0, 4 };
    CHECK("tok-1.2", astro_tokenizer_new(&to, &tiny, &err) == ASTRO_OK);
    collect c;

    CHECK("tok-2.0", strcmp(tok(plain, "", &c), "") == 0);
    CHECK("tok-2.1", strcmp(tok(plain, "  ,;  ", &c), "") == 0);
    CHECK("tok-2.2", strcmp(tok(plain, "Hello, World! 42x", &c), "hello world 42x") == 0);
    CHECK("tok-2.3", c.off[1] == 7 && c.len[1] == 5 && c.off[2] == 14 && c.len[2] == 3);
    CHECK("tok-2.4", strcmp(tok(plain, "caf\xC3\xA9-\xC3\x89t\xC3\xA9", &c),
                            "caf\xC3\xA9 \xC3\xA9t\xC3\xA9") == 0);  /* Latin-1 folded */
    CHECK("tok-2.5", strcmp(tok(plain, "The cat", &c), "the cat") == 0);
    CHECK("tok-2.6", strcmp(tok(def, "The cat is on the mat", &c), "cat mat") == 0);
    CHECK("tok-2.7", strcmp(tok(def, "What did YOU do", &c), "") == 0);
    CHECK("tok-2.8", strcmp(tok(plain, "a_b", &c), "a b") == 0);

    /* Porter stemming through the tokenizer (the algorithm: test_stem.c). */
    CHECK("tok-3.0", stems_to(def, "flies", "fli"));
    CHECK("tok-3.1", stems_to(def, "classes", "class"));
    CHECK("tok-3.2", stems_to(def, "running", "run"));
    CHECK("tok-3.3", stems_to(def, "RUNNING", "run"));
    CHECK("tok-3.4", stems_to(def, "Camping camped CAMPS", "camp camp camp"));
    CHECK("tok-3.5", stems_to(def, "falling", "fall"));
    CHECK("tok-3.6", stems_to(def, "generalizations", "gener"));
    CHECK("tok-3.7", stems_to(plain, "running", "running"));
    /* Possessives and contractions leave no fragment behind. */
    CHECK("tok-3.8", stems_to(def, "Caroline's dog didn't bark, we'll see", "carolin dog bark see"));
    CHECK("tok-3.9", stems_to(def, "caf\xC3\xA9s", "caf\xC3\xA9s"));   /* non-ASCII words are not stemmed */

    /* Truncation keeps whole code points. */
    CHECK("tok-4.0", strcmp(tok(tiny, "abcdefgh ab", &c), "abcd ab") == 0);
    CHECK("tok-4.1", strcmp(tok(tiny, "ab\xC3\xA9\xC3\xA9", &c), "ab\xC3\xA9") == 0);
    CHECK("tok-4.2", strcmp(tok(tiny, "abc\xC3\xA9", &c), "abc") == 0);
    CHECK("tok-4.3", strcmp(tok(tiny, "\xE3\x82\xA2\xE3\x82\xA2", &c), "\xE3\x82\xA2") == 0);   /* katakana */
    /* Unicode case folding and separators. */
    CHECK("tok-6.0", strcmp(tok(plain, "\xC3\x89" "COLE Stra\xC3\x9F" "e \xC5\x81\xC3\x93" "D\xC5\xB9", &c),
                            "\xC3\xA9" "cole stra\xC3\x9F" "e \xC5\x82\xC3\xB3" "d\xC5\xBA") == 0);   /* ÉCOLE Straße ŁÓDŹ */
    CHECK("tok-6.1", strcmp(tok(plain, "\xCE\x91\xCE\x98\xCE\x89\xCE\x9D\xCE\x91 \xCE\xA3\xCE\x9F\xCF\x86\xCE\xBF\xCF\x82", &c),
                            "\xCE\xB1\xCE\xB8\xCE\xAE\xCE\xBD\xCE\xB1 \xCF\x83\xCE\xBF\xCF\x86\xCE\xBF\xCF\x83") == 0);   /* ΑΘΉΝΑ ΣΟφος */
    CHECK("tok-6.2", strcmp(tok(plain, "\xD0\x9C\xD0\x9E\xD0\xA1\xD0\x9A\xD0\x92\xD0\x90 \xD0\x81\xD0\xBB\xD0\xBA\xD0\xB0", &c),
                            "\xD0\xBC\xD0\xBE\xD1\x81\xD0\xBA\xD0\xB2\xD0\xB0 \xD1\x91\xD0\xBB\xD0\xBA\xD0\xB0") == 0);   /* МОСКВА Ёлка */
    CHECK("tok-6.3", strcmp(tok(plain, "a\xE2\x80\x94" "b\xC2\xA0" "c\xE3\x80\x80" "d\xEF\xBC\x81" "e\xE2\x80\x9C" "f\xE2\x80\x9D", &c),
                            "a b c d e f") == 0);   /* em dash, NBSP, ideographic space, fullwidth !, quotes */
    CHECK("tok-6.4", strcmp(tok(plain, "\xE6\x9D\xB1\xE4\xBA\xAC\xE3\x80\x82tokyo", &c),
                            "\xE6\x9D\xB1 \xE4\xBA\xAC tokyo") == 0);   /* 東京。tokyo: one token per ideograph */
    CHECK("tok-6.5", c.off[1] == 3 && c.len[1] == 3 && c.off[2] == 9);
    CHECK("tok-6.6", strcmp(tok(plain, "ab\xFF" "cd", &c), "ab\xFF" "cd") == 0);   /* undecodable byte stays */
    {
        /* A long word is truncated to the default 64 bytes. */
        char big[200];
        memset(big, 'a', 199);
        big[199] = '\0';
        tok(plain, big, &c);
        CHECK("tok-4.4", c.n == 1 && strlen(c.text) == 64);
    }

    /* Early stop. */
    memset(&c, 0, sizeof c);
    c.stop_after = 2;
    CHECK("tok-5.0", astro_tokenize(plain, "one two three four", 18, on_tok, &c) == 2);
    CHECK("tok-5.1", astro_tokenize(NULL, "x", 1, on_tok, &c) == 0);

    /* Stopword table: sorted, unique, every entry found. */
    for (size_t i = 0; i < astro__nstopwords; i++) {
        if (i) CHECK("tok-6.0", strcmp(astro__stopwords[i - 1], astro__stopwords[i]) < 0);
        CHECK("tok-6.1", astro__is_stopword(astro__stopwords[i], strlen(astro__stopwords[i])));
    }
    CHECK("tok-6.2", astro__nstopwords >= 100);
    CHECK("tok-6.3", !astro__is_stopword("memory", 6));

    /* Token estimate. */
    CHECK("tc-1.0", astro_token_count("", 0) == 1);
    CHECK("tc-1.1", astro_token_count("a", 1) == 1);
    CHECK("tc-1.2", astro_token_count("hello world", 11) == 2);      /* max(2, 2) */
    CHECK("tc-1.3", astro_token_count("abcdefghijklmnopqrst", 20) == 5);
    CHECK("tc-1.4", astro_token_count("a b c d e f", 11) == 7);      /* floor(6*1.33)=7 */
    /* 6 CJK of 6 chars: 6/1.5 = 4 (words: 1 -> 1). */
    CHECK("tc-1.5", astro_token_count("\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x81\xA7\xE3\x81\x99\xE3\x81\xAD", 18) == 4);
    /* 3 CJK of 12 chars (25%) -> chars/4 = 3, words 2 -> 2. */
    CHECK("tc-1.6", astro_token_count("\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E abcdefgh", 18) == 3);
    CHECK("tc-1.7", astro_token_count("   ", 3) == 1);
    {
        char words[400];
        for (int i = 0; i < 100; i++) { words[2 * i] = 'w'; words[2 * i + 1] = ' '; }
        CHECK("tc-1.8", astro_token_count(words, 200) == 133);
    }

    astro_tokenizer_free(plain);
    astro_tokenizer_free(def);
    astro_tokenizer_free(tiny);
    astro_tokenizer_free(NULL);
    return check_report("test_tokenize");
}
