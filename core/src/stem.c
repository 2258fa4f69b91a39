/*
** stem.c — the Porter stemming algorithm (M.F. Porter, "An algorithm for
** suffix stripping", Program 14(3), 1980), as in Porter's own reference C
** implementation, including its two published departures ("-bli" -> "-ble"
** and "-logi" -> "-log" in step 2). The tokenizer applies it to lowercase
** ASCII words so that "camping", "camped" and "camps" all index as "camp".
**
** A word is a byte string w[0..n) of 'a'..'z' (the tokenizer only hands over
** ASCII words; digits are treated as consonants, which leaves "2023" or
** "3pm"-like tokens alone in practice). Words of one or two letters are left
** as they are. The stem is written in place and is never longer than the word.
** All state lives in a small struct on the caller's stack: no globals.
*/
#include <string.h>

#include "internal.h"

typedef struct porter {
    char *b;   /* the word, modified in place */
    int k;     /* index of its last letter */
    int j;     /* general offset into the word, set by ends() */
} porter;

/* Returns 1 if b[i] is a consonant ('y' is one after a vowel or at 0). */
static int cons(const porter *z, int i) {
    switch (z->b[i]) {
    case 'a': case 'e': case 'i': case 'o': case 'u': return 0;
    case 'y': return i == 0 ? 1 : !cons(z, i - 1);
    default: return 1;
    }
}

/* Returns m, the number of VC sequences in b[0..j]: [C](VC)^m[V]. */
static int measure(const porter *z) {
    int n = 0, i = 0, j = z->j;
    for (;;) {
        if (i > j) return n;
        if (!cons(z, i)) break;
        i++;
    }
    i++;
    for (;;) {
        for (;;) {
            if (i > j) return n;
            if (cons(z, i)) break;
            i++;
        }
        i++;
        n++;
        for (;;) {
            if (i > j) return n;
            if (!cons(z, i)) break;
            i++;
        }
        i++;
    }
}

/* Returns 1 if b[0..j] contains a vowel. */
static int vowel_in_stem(const porter *z) {
    for (int i = 0; i <= z->j; i++)
        if (!cons(z, i)) return 1;
    return 0;
}

/* Returns 1 if b[j-1..j] is a double consonant. */
static int double_cons(const porter *z, int j) {
    if (j < 1 || z->b[j] != z->b[j - 1]) return 0;
    return cons(z, j);
}

/* Returns 1 if b[i-2..i] is consonant-vowel-consonant and b[i] is not w, x
 * or y (hop(e), cav(e), but not snow, box, tray). */
static int cvc(const porter *z, int i) {
    if (i < 2 || !cons(z, i) || cons(z, i - 1) || !cons(z, i - 2)) return 0;
    char ch = z->b[i];
    return !(ch == 'w' || ch == 'x' || ch == 'y');
}

/* Returns 1 if b[0..k] ends with s (length-prefixed) and sets j to the
 * index before the suffix. */
static int ends(porter *z, const char *s) {
    int len = s[0];
    if (len > z->k + 1) return 0;
    if (memcmp(z->b + z->k - len + 1, s + 1, (size_t)len) != 0) return 0;
    z->j = z->k - len;
    return 1;
}

/* Replaces b[j+1..k] by s (length-prefixed) and adjusts k. */
static void setto(porter *z, const char *s) {
    int len = s[0];
    memmove(z->b + z->j + 1, s + 1, (size_t)len);
    z->k = z->j + len;
}

/* setto(s) when m > 0. */
static void r(porter *z, const char *s) {
    if (measure(z) > 0) setto(z, s);
}

/* Step 1ab: plurals and -ed / -ing. */
static void step1ab(porter *z) {
    char *b = z->b;
    if (b[z->k] == 's') {
        if (ends(z, "\04" "sses")) z->k -= 2;
        else if (ends(z, "\03" "ies")) setto(z, "\01" "i");
        else if (b[z->k - 1] != 's') z->k--;
    }
    if (ends(z, "\03" "eed")) {
        if (measure(z) > 0) z->k--;
    } else if ((ends(z, "\02" "ed") || ends(z, "\03" "ing")) && vowel_in_stem(z)) {
        z->k = z->j;
        if (ends(z, "\02" "at")) setto(z, "\03" "ate");
        else if (ends(z, "\02" "bl")) setto(z, "\03" "ble");
        else if (ends(z, "\02" "iz")) setto(z, "\03" "ize");
        else if (double_cons(z, z->k)) {
            z->k--;
            char ch = b[z->k];
            if (ch == 'l' || ch == 's' || ch == 'z') z->k++;
        } else {
            z->j = z->k;
            if (measure(z) == 1 && cvc(z, z->k)) setto(z, "\01" "e");
        }
    }
}

/* Step 1c: terminal y -> i when the stem has another vowel. */
static void step1c(porter *z) {
    if (ends(z, "\01" "y") && vowel_in_stem(z)) z->b[z->k] = 'i';
}

/* Step 2: double suffixes to single ones (-ization -> -ize ...), m > 0. */
static void step2(porter *z) {
    switch (z->b[z->k - 1]) {
    case 'a':
        if (ends(z, "\07" "ational")) { r(z, "\03" "ate"); break; }
        if (ends(z, "\06" "tional")) { r(z, "\04" "tion"); break; }
        break;
    case 'c':
        if (ends(z, "\04" "enci")) { r(z, "\04" "ence"); break; }
        if (ends(z, "\04" "anci")) { r(z, "\04" "ance"); break; }
        break;
    case 'e':
        if (ends(z, "\04" "izer")) { r(z, "\03" "ize"); break; }
        break;
    case 'l':
        if (ends(z, "\03" "bli")) { r(z, "\03" "ble"); break; }   /* departure: abli -> able */
        if (ends(z, "\04" "alli")) { r(z, "\02" "al"); break; }
        if (ends(z, "\05" "entli")) { r(z, "\03" "ent"); break; }
        if (ends(z, "\03" "eli")) { r(z, "\01" "e"); break; }
        if (ends(z, "\05" "ousli")) { r(z, "\03" "ous"); break; }
        break;
    case 'o':
        if (ends(z, "\07" "ization")) { r(z, "\03" "ize"); break; }
        if (ends(z, "\05" "ation")) { r(z, "\03" "ate"); break; }
        if (ends(z, "\04" "ator")) { r(z, "\03" "ate"); break; }
        break;
    case 's':
        if (ends(z, "\05" "alism")) { r(z, "\02" "al"); break; }
        if (ends(z, "\07" "iveness")) { r(z, "\03" "ive"); break; }
        if (ends(z, "\07" "fulness")) { r(z, "\03" "ful"); break; }
        if (ends(z, "\07" "ousness")) { r(z, "\03" "ous"); break; }
        break;
    case 't':
        if (ends(z, "\05" "aliti")) { r(z, "\02" "al"); break; }
        if (ends(z, "\05" "iviti")) { r(z, "\03" "ive"); break; }
        if (ends(z, "\06" "biliti")) { r(z, "\03" "ble"); break; }
        break;
    case 'g':
        if (ends(z, "\04" "logi")) { r(z, "\03" "log"); break; }   /* departure */
        break;
    default:
        break;
    }
}

/* Step 3: -ic-, -full, -ness and the like, m > 0. */
static void step3(porter *z) {
    switch (z->b[z->k]) {
    case 'e':
        if (ends(z, "\05" "icate")) { r(z, "\02" "ic"); break; }
        if (ends(z, "\05" "ative")) { r(z, "\00" ""); break; }
        if (ends(z, "\05" "alize")) { r(z, "\02" "al"); break; }
        break;
    case 'i':
        if (ends(z, "\05" "iciti")) { r(z, "\02" "ic"); break; }
        break;
    case 'l':
        if (ends(z, "\04" "ical")) { r(z, "\02" "ic"); break; }
        if (ends(z, "\03" "ful")) { r(z, "\00" ""); break; }
        break;
    case 's':
        if (ends(z, "\04" "ness")) { r(z, "\00" ""); break; }
        break;
    default:
        break;
    }
}

/* Step 4: -ant, -ence, -ment ... removed when m > 1. */
static void step4(porter *z) {
    switch (z->b[z->k - 1]) {
    case 'a': if (ends(z, "\02" "al")) break; return;
    case 'c': if (ends(z, "\04" "ance") || ends(z, "\04" "ence")) break; return;
    case 'e': if (ends(z, "\02" "er")) break; return;
    case 'i': if (ends(z, "\02" "ic")) break; return;
    case 'l': if (ends(z, "\04" "able") || ends(z, "\04" "ible")) break; return;
    case 'n':
        if (ends(z, "\03" "ant") || ends(z, "\05" "ement") || ends(z, "\04" "ment") || ends(z, "\03" "ent")) break;
        return;
    case 'o':
        if (ends(z, "\03" "ion") && z->j >= 0 && (z->b[z->j] == 's' || z->b[z->j] == 't')) break;
        if (ends(z, "\02" "ou")) break;
        return;
    case 's': if (ends(z, "\03" "ism")) break; return;
    case 't': if (ends(z, "\03" "ate") || ends(z, "\03" "iti")) break; return;
    case 'u': if (ends(z, "\03" "ous")) break; return;
    case 'v': if (ends(z, "\03" "ive")) break; return;
    case 'z': if (ends(z, "\03" "ize")) break; return;
    default: return;
    }
    if (measure(z) > 1) z->k = z->j;
}

/* Step 5: final -e when m > 1 (or m = 1 and not *o), -ll -> -l when m > 1. */
static void step5(porter *z) {
    z->j = z->k;
    if (z->b[z->k] == 'e') {
        int a = measure(z);
        if (a > 1 || (a == 1 && !cvc(z, z->k - 1))) z->k--;
    }
    if (z->b[z->k] == 'l' && double_cons(z, z->k)) {
        z->j = z->k;
        if (measure(z) > 1) z->k--;
    }
}

/* Stems the lowercase ASCII word w[0..n) in place; returns the stem's
 * length (<= n). Words of at most two letters are returned unchanged. */
size_t astro__porter_stem(char *w, size_t n) {
    if (n <= 2 || n > 0x7fffffff) return n;
    porter z = { w, (int)n - 1, 0 };
    step1ab(&z);
    if (z.k > 0) {
        step1c(&z);
        step2(&z);
        step3(&z);
        step4(&z);
        step5(&z);
    }
    return (size_t)z.k + 1;
}
