/*
** test_pii.c — the PII scanner against the reference regexes: every base type
** and every country pack with positive and negative cases, Luhn on cards and
** SINs, per-pattern non-overlap and scan order, the capacity protocol, and
** exact redaction output including overlap resolution and custom tokens. The
** expected strings were checked against Python's re (re.ASCII) running the
** reference patterns.
*/
#include <stdio.h>
#include <string.h>

#include "astro/pii.h"
#include "check.h"

/* Formats the matches of text as "type[matched] type[matched]" into buf. */
static const char *scan(const astro_pii *sc, const char *text, char *buf, size_t cap) {
    astro_pii_match m[64];
    size_t n = 0, w = 0;
    astro_err err;
    buf[0] = '\0';
    if (astro_pii_scan(sc, text, strlen(text), m, 64, &n, &err) != ASTRO_OK) {
        snprintf(buf, cap, "error: %s", err.msg);
        return buf;
    }
    for (size_t i = 0; i < n && w < cap; i++)
        w += (size_t)snprintf(buf + w, cap - w, "%s%s[%.*s]", i ? " " : "",
                              astro_pii_type_name(m[i].type), (int)m[i].len, text + m[i].off);
    return buf;
}

/* Checks that scanning text with sc gives exactly want. */
#define SCAN(id, sc, text, want)                                               \
    do {                                                                       \
        char b_[1024];                                                         \
        const char *got_ = scan(sc, text, b_, sizeof b_);                      \
        if (strcmp(got_, want) != 0) {                                         \
            failures++;                                                        \
            fprintf(stderr, "%s:%d: %s: got \"%s\", want \"%s\"\n", __FILE__, __LINE__, id, got_, want); \
        }                                                                      \
    } while (0)

/* Redacts every match of the types in mask; returns the text in buf. */
static const char *redact(const astro_pii *sc, const char *text, uint64_t mask,
                          const char *const *repl, char *buf, size_t cap) {
    astro_pii_match m[64];
    size_t n = 0, out_len = 0;
    if (astro_pii_scan(sc, text, strlen(text), m, 64, &n, NULL) != ASTRO_OK) return "scan error";
    if (astro_pii_redact(text, strlen(text), m, n, mask, repl, buf, cap - 1, &out_len, NULL) != ASTRO_OK)
        return "redact error";
    buf[out_len] = '\0';
    return buf;
}

#define REDACT(id, sc, text, mask, repl, want)                                 \
    do {                                                                       \
        char b_[1024];                                                         \
        const char *got_ = redact(sc, text, mask, repl, b_, sizeof b_);        \
        if (strcmp(got_, want) != 0) {                                         \
            failures++;                                                        \
            fprintf(stderr, "%s:%d: %s: got \"%s\", want \"%s\"\n", __FILE__, __LINE__, id, got_, want); \
        }                                                                      \
    } while (0)

static astro_pii *make(const char *const *countries, size_t n, uint64_t types) {
    astro_pii_opts o = { countries, n, types };
    astro_pii *sc = NULL;
    astro_err err;
    if (astro_pii_new(&o, &sc, &err) != ASTRO_OK) {
        fprintf(stderr, "astro_pii_new: %s\n", err.msg);
        failures++;
    }
    return sc;
}

static void test_base(void) {
    astro_pii *sc = make(NULL, 0, 0);
    /* email */
    SCAN("email-1.0", sc, "mail john.doe+tag@mail.example.co.uk now", "email[john.doe+tag@mail.example.co.uk]");
    SCAN("email-1.1", sc, "a@b.com.", "email[a@b.com]");
    SCAN("email-1.2", sc, "x@y.com1 a-@b.com a@b-.com a@b.c", "");
    SCAN("email-1.3", sc, "_a@b.com", "");
    SCAN("email-1.4", sc, "a@b.com.x@y.org", "email[a@b.com] email[x@y.org]");
    SCAN("email-1.5", sc, "Mail: A.B@Ex-ample.COM-x", "email[A.B@Ex-ample.COM]");
    SCAN("email-1.6", sc, "..a@b.io", "email[a@b.io]");
    /* phone (NANP, no \b: also inside longer digit runs) */
    SCAN("phone-1.0", sc, "call (555) 867-5309 or +1 555.867.5309", "phone[(555) 867-5309] phone[+1 555.867.5309]");
    SCAN("phone-1.1", sc, "5558675309", "phone[5558675309]");
    SCAN("phone-1.2", sc, "555-8675 and 55-867-5309", "");
    SCAN("phone-1.3", sc, "x15558675309y", "phone[15558675309]");
    /* ssn */
    SCAN("ssn-1.0", sc, "SSN 123-45-6789.", "ssn[123-45-6789]");
    SCAN("ssn-1.1", sc, "123-45-67890 a123-45-6789 123456789", "phone[789 1234567]");
    /* credit card with Luhn; a failing candidate consumes its span */
    SCAN("cc-1.0", sc, "card 4111 1111 1111 1111 ok", "credit_card[4111 1111 1111 1111]");
    SCAN("cc-1.1", sc, "4111-1111-1111-1112", "");
    SCAN("cc-1.2", sc, "5500000000000004", "phone[5500000000] credit_card[5500000000000004]");
    SCAN("cc-1.3", sc, "4111 1111 1111 11111", "");
    /* ip address */
    SCAN("ip-1.0", sc, "hosts 192.168.0.1, 10.0.0.255 and 8.8.8.8", "ip_address[192.168.0.1] ip_address[10.0.0.255] ip_address[8.8.8.8]");
    SCAN("ip-1.1", sc, "1.2.3.256 1.2.3 1.2.3.4a 01.2.3.4.5", "ip_address[01.2.3.4]");
    SCAN("ip-1.2", sc, "v6 2001:0db8:85a3:0000:0000:8a2e:0370:7334 end", "ip_address[2001:0db8:85a3:0000:0000:8a2e:0370:7334]");
    SCAN("ip-1.3", sc, "abcdef:1:2:3:4:5:6:789abc", "ip_address[cdef:1:2:3:4:5:6:789a]");
    SCAN("ip-1.4", sc, "2001:db8::1 fe80:1:2:3:4:5:6", "");
    /* date of birth: keyword included, case-insensitive */
    SCAN("dob-1.0", sc, "DOB: 1990-01-02", "date_of_birth[DOB: 1990-01-02]");
    SCAN("dob-1.1", sc, "Born 3/4/85; date  of\tbirth 12-31-1999", "date_of_birth[Born 3/4/85] date_of_birth[date  of\tbirth 12-31-1999]");
    SCAN("dob-1.2", sc, "Birthday:: 1/2/12345", "date_of_birth[Birthday:: 1/2/1234]");
    SCAN("dob-1.3", sc, "born in 1990, dob 1990.01.02, birthday 1990-1-2", "");
    /* iban */
    SCAN("iban-1.0", sc, "IBAN DE89 3704 0044 0532 0130 00 paid", "iban[DE89 3704 0044 0532 0130 00]");
    SCAN("iban-1.1", sc, "GB82WEST12345698765432", "phone[12345698765] iban[GB82WEST12345698765432]");
    SCAN("iban-1.2", sc, "DE89 3704 0044 and de89370400440532013000", "phone[8937040044] phone[0532013000]");
    /* order: base types in reference order, then offset */
    SCAN("order-1.0", sc, "8.8.8.8 a@b.io 123-45-6789", "email[a@b.io] ssn[123-45-6789] ip_address[8.8.8.8]");
    SCAN("empty-1.0", sc, "", "");
    astro_pii_free(sc);
}

static void test_countries(void) {
    const char *all[] = { "sg", "IN", "US", "uk", "DE", "FR", "IT", "ES", "AU", "CA", "JP", "CN" };
    astro_pii *sc = make(all, 12, 0);
    SCAN("sg-1.0", sc, "NRIC S1234567D, tel +65 6123 4567", "nric[S1234567D] sg_phone[+65 6123 4567]");
    SCAN("sg-1.1", sc, "A1234567D S1234567 +6561234567x", "phone[6561234567]");
    SCAN("in-1.0", sc, "Aadhaar 2345 6789 0123 PAN ABCDE1234F +91 98765 43210",
         "aadhaar[2345 6789 0123] pan[ABCDE1234F] in_phone[+91 98765 43210]");
    SCAN("in-1.1", sc, "1234 5678 9012 ABCD1234F", "");
    SCAN("us-1.0", sc, "passport C12345678 and 123456789", "us_passport[C12345678] us_passport[123456789] de_personalausweis[C12345678] au_tfn[123456789]");
    SCAN("us-1.1", sc, "CC12345678 1234567", "phone[345678 1234]");
    SCAN("uk-1.0", sc, "NINO AB 12 34 56 C", "uk_nino[AB 12 34 56 C]");
    SCAN("uk-1.1", sc, "NHS 943 476 5919", "phone[943 476 5919] uk_nhs[943 476 5919]");
    SCAN("uk-1.2", sc, "tel 020 7946 0958x +44 2079 460958", "uk_phone[+44 2079 460958] au_medicare[2079 460958]");
    SCAN("uk-1.3", sc, "AB 12 34 56 E", "");
    SCAN("de-1.0", sc, "Ausweis T22000129", "us_passport[T22000129] de_personalausweis[T22000129]");
    SCAN("de-1.1", sc, "A22000129 T2200012", "us_passport[A22000129]");
    SCAN("fr-1.0", sc, "INSEE 1 85 05 78 006 084 36", "fr_insee[1 85 05 78 006 084 36] au_tfn[006 084 36]");
    SCAN("fr-1.1", sc, "3 85 05 78 006 084 36", "au_tfn[006 084 36]");
    SCAN("it-1.0", sc, "CF RSSMRA85T10A562S.", "it_codice_fiscale[RSSMRA85T10A562S]");
    SCAN("it-1.1", sc, "RSSMRA85T10A562", "");
    SCAN("es-1.0", sc, "DNI 12345678Z NIE X1234567L", "es_dni[12345678Z] es_nie[X1234567L]");
    SCAN("es-1.1", sc, "1234567Z W1234567L", "");
    SCAN("au-1.0", sc, "+61 2 9876 5432", "au_phone[+61 2 9876 5432]");
    SCAN("au-1.1", sc, "TFN 123 456 78", "au_tfn[123 456 78]");
    SCAN("ca-1.0", sc, "SIN 046 454 286", "au_tfn[046 454 286] ca_sin[046 454 286]");
    SCAN("ca-1.1", sc, "SIN 046 454 287", "au_tfn[046 454 287]");
    SCAN("jp-1.0", sc, "My Number: 1234 5678 9012", "jp_my_number[My Number: 1234 5678 9012]");
    SCAN("jp-1.1", sc, "\xe3\x83\x9e\xe3\x82\xa4\xe3\x83\x8a\xe3\x83\xb3\xe3\x83\x90\xe3\x83\xbc 123456789012",
         "phone[12345678901] jp_my_number[\xe3\x83\x9e\xe3\x82\xa4\xe3\x83\x8a\xe3\x83\xb3\xe3\x83\x90\xe3\x83\xbc 123456789012]");
    SCAN("jp-1.2", sc, "+81 3 1234 5678", "jp_phone[+81 3 1234 5678]");
    SCAN("cn-1.0", sc, "ID 11010519491231002X", "phone[11010519491] cn_resident_id[11010519491231002X]");
    SCAN("cn-1.1", sc, "ID 11010518491231002X", "phone[11010518491]");
    SCAN("cn-1.2", sc, "+86 138 1234 5678", "cn_phone[+86 138 1234 5678]");
    astro_pii_free(sc);

    /* GB is the UK pack; duplicates are ignored; pack order is scan order. */
    const char *gb[] = { "GB", "uk", "ES" }, *es[] = { "es", "gb" };
    sc = make(gb, 3, 0);
    SCAN("gb-1.0", sc, "12345678Z AB123456C", "uk_nino[AB123456C] es_dni[12345678Z]");
    astro_pii_free(sc);
    sc = make(es, 2, 0);
    SCAN("gb-1.1", sc, "12345678Z AB123456C", "es_dni[12345678Z] uk_nino[AB123456C]");
    astro_pii_free(sc);
    /* A type mask limits what is reported. */
    sc = make(es, 2, ASTRO_PII_BIT(ASTRO_PII_EMAIL) | ASTRO_PII_BIT(ASTRO_PII_ES_DNI));
    SCAN("mask-1.0", sc, "a@b.io 12345678Z 555-867-5309", "email[a@b.io] es_dni[12345678Z]");
    astro_pii_free(sc);

    astro_pii_opts o = { NULL, 0, 0 };
    const char *bad[] = { "XX" };
    astro_pii *x = NULL;
    astro_err err;
    o.countries = bad;
    o.n_countries = 1;
    CHECK("new-1.0", astro_pii_new(&o, &x, &err) == ASTRO_EINVAL && x == NULL);
    CHECK("new-1.1", strncmp(err.msg, "unknown country code 'XX'", 25) == 0);
    CHECK("new-1.2", astro_pii_new(NULL, NULL, &err) == ASTRO_EINVAL);
    astro_pii_free(NULL);
}

static void test_luhn_names(void) {
    CHECK("luhn-1.0", astro_pii_luhn("4111 1111 1111 1111", 19) == 1);
    CHECK("luhn-1.1", astro_pii_luhn("4111 1111 1111 1112", 19) == 0);
    CHECK("luhn-1.2", astro_pii_luhn("046-454-286", 11) == 1);
    CHECK("luhn-1.3", astro_pii_luhn("00000000", 8) == 0);               /* < 9 digits */
    CHECK("luhn-1.4", astro_pii_luhn("00000000000000000000", 20) == 0);  /* > 19 digits */
    CHECK("luhn-1.5", astro_pii_luhn("000000000", 9) == 1);
    CHECK("name-1.0", strcmp(astro_pii_type_name(ASTRO_PII_CREDIT_CARD), "credit_card") == 0);
    CHECK("name-1.1", strcmp(astro_pii_replacement(ASTRO_PII_CREDIT_CARD), "[CC_REDACTED]") == 0);
    CHECK("name-1.2", strcmp(astro_pii_replacement(ASTRO_PII_CN_PHONE), "[PHONE_REDACTED]") == 0);
    CHECK("name-1.3", astro_pii_type_from_name("uk_nino") == ASTRO_PII_UK_NINO);
    CHECK("name-1.4", astro_pii_type_from_name("nope") == -1 && astro_pii_type_name(99) == NULL);
    for (int t = 0; t < ASTRO_PII_TYPE_COUNT; t++)
        CHECK("name-2.0", astro_pii_type_from_name(astro_pii_type_name((uint32_t)t)) == t);
}

static void test_capacity(void) {
    astro_pii *sc = make(NULL, 0, 0);
    const char *t = "a@b.io c@d.io e@f.io";
    astro_pii_match m[3];
    size_t n = 0;
    astro_err err;
    CHECK("cap-1.0", astro_pii_scan(sc, t, strlen(t), m, 2, &n, &err) == ASTRO_ERANGE && n == 3);
    CHECK("cap-1.1", astro_pii_scan(sc, t, strlen(t), NULL, 0, &n, &err) == ASTRO_ERANGE && n == 3);
    CHECK("cap-1.2", astro_pii_scan(sc, t, strlen(t), m, 3, &n, &err) == ASTRO_OK && n == 3);
    CHECK("cap-1.3", m[2].off == 14 && m[2].len == 6 && m[2].type == ASTRO_PII_EMAIL && m[2].reserved == 0);
    CHECK("cap-1.4", astro_pii_scan(sc, NULL, 0, NULL, 0, &n, &err) == ASTRO_OK && n == 0);
    CHECK("cap-1.5", astro_pii_scan(sc, NULL, 3, m, 3, &n, &err) == ASTRO_EINVAL);
    astro_pii_free(sc);
}

static void test_redact(void) {
    const char *au[] = { "AU" };
    astro_pii *sc = make(au, 1, 0);
    REDACT("redact-1.0", sc, "mail a@b.io or call 555-867-5309.", ASTRO_PII_ALL_TYPES, NULL,
           "mail [EMAIL_REDACTED] or call [PHONE_REDACTED].");
    REDACT("redact-1.1", sc, "mail a@b.io or call 555-867-5309.", ASTRO_PII_BIT(ASTRO_PII_PHONE), NULL,
           "mail a@b.io or call [PHONE_REDACTED].");
    REDACT("redact-1.2", sc, "card 4111 1111 1111 1111!", ASTRO_PII_ALL_TYPES, NULL, "card [CC_REDACTED]!");
    REDACT("redact-1.3", sc, "card 4111 1111 1111 1111!", ASTRO_PII_BIT(ASTRO_PII_PHONE), NULL,
           "card 4111 1111 1111 1111!");
    REDACT("redact-1.7", sc, "ID 943 476 5919 ok", ASTRO_PII_ALL_TYPES, NULL, "ID [PHONE_REDACTED] ok");
    astro_pii_free(sc);

    /* Overlaps: phone[12345698765] lies inside the IBAN, which starts first;
     * phone[11010519491] and the CN id start together, the longer wins. Only
     * the types being redacted take part. */
    const char *cn[] = { "CN" };
    sc = make(cn, 1, 0);
    REDACT("redact-3.0", sc, "GB82WEST12345698765432 x", ASTRO_PII_ALL_TYPES, NULL, "[IBAN_REDACTED] x");
    REDACT("redact-3.1", sc, "GB82WEST12345698765432 x", ASTRO_PII_BIT(ASTRO_PII_PHONE), NULL, "GB82WEST[PHONE_REDACTED]432 x");
    REDACT("redact-3.2", sc, "ID 11010519491231002X.", ASTRO_PII_ALL_TYPES, NULL, "ID [CN_ID_REDACTED].");
    REDACT("redact-3.3", sc, "ID 11010519491231002X.", ASTRO_PII_BIT(ASTRO_PII_PHONE), NULL, "ID [PHONE_REDACTED]231002X.");
    REDACT("redact-1.4", sc, "DOB: 1990-01-02", ASTRO_PII_ALL_TYPES, NULL, "[DOB_REDACTED]");
    const char *repl[ASTRO_PII_TYPE_COUNT] = { 0 };
    repl[ASTRO_PII_EMAIL] = "<email>";
    REDACT("redact-1.5", sc, "a@b.io x c@d.io", ASTRO_PII_ALL_TYPES, repl, "<email> x <email>");
    REDACT("redact-1.6", sc, "nothing here", ASTRO_PII_ALL_TYPES, NULL, "nothing here");

    /* Measuring with cap 0, a short buffer, and spans outside the text. */
    const char *t = "x a@b.io";
    astro_pii_match m[4];
    size_t n = 0, need = 0;
    char out[64];
    astro_err err;
    CHECK("redact-2.0", astro_pii_scan(sc, t, strlen(t), m, 4, &n, &err) == ASTRO_OK && n == 1);
    CHECK("redact-2.1", astro_pii_redact(t, strlen(t), m, n, ASTRO_PII_ALL_TYPES, NULL, NULL, 0, &need, &err) == ASTRO_ERANGE && need == 18);
    CHECK("redact-2.2", astro_pii_redact(t, strlen(t), m, n, ASTRO_PII_ALL_TYPES, NULL, out, 17, &need, &err) == ASTRO_ERANGE);
    CHECK("redact-2.3", astro_pii_redact(t, strlen(t), m, n, ASTRO_PII_ALL_TYPES, NULL, out, 18, &need, &err) == ASTRO_OK &&
                            need == 18 && memcmp(out, "x [EMAIL_REDACTED]", 18) == 0);
    m[0].len = 99;
    CHECK("redact-2.4", astro_pii_redact(t, strlen(t), m, n, ASTRO_PII_ALL_TYPES, NULL, out, 64, &need, &err) == ASTRO_EINVAL);
    m[0].len = 1;
    m[0].type = 200;
    CHECK("redact-2.5", astro_pii_redact(t, strlen(t), m, n, ASTRO_PII_ALL_TYPES, NULL, out, 64, &need, &err) == ASTRO_EINVAL);
    CHECK("redact-2.6", astro_pii_redact("", 0, NULL, 0, ASTRO_PII_ALL_TYPES, NULL, NULL, 0, &need, &err) == ASTRO_OK && need == 0);
    /* An empty result with out NULL (found by fuzz/fuzz_pii.c): the write
     * pass ran and passed NULL to memcpy (UBSan: nonnull, NULL + 0). */
    const char *empty[ASTRO_PII_TYPE_COUNT] = { NULL, NULL, "" };
    astro_pii_match z = { ASTRO_PII_SSN, 0, 0, 1 };
    CHECK("redact-2.7", astro_pii_redact("x", 1, &z, 1, ASTRO_PII_ALL_TYPES, empty, NULL, 0, &need, &err) == ASTRO_OK && need == 0);
    z.len = 0;
    CHECK("redact-2.8", astro_pii_redact("", 0, &z, 1, ASTRO_PII_ALL_TYPES, empty, NULL, 0, &need, &err) == ASTRO_OK && need == 0);
    astro_pii_free(sc);
}

int main(void) {
    test_base();
    test_countries();
    test_luhn_names();
    test_capacity();
    test_redact();
    return check_report("test_pii");
}
