/*
** test_stem.c — the Porter stemmer (stem.c): word/stem pairs from Porter's
** published sample vocabulary (voc.txt / output.txt, its first entries, typed
** in), the examples of the 1980 paper run through the whole algorithm, and
** words of everyday conversation; plus boundary cases (empty, one and two
** letters, in-place, never longer).
*/
#include <stdio.h>
#include <string.h>

#include "../src/internal.h"
#include "check.h"

typedef struct pair {
    const char *word;
    const char *stem;
} pair;

static const pair PAIRS[] = {
    {"a", "a"}, {"aaron", "aaron"}, {"abaissiez", "abaissiez"}, {"abandon", "abandon"},
    {"abandoned", "abandon"}, {"abase", "abas"}, {"abash", "abash"}, {"abate", "abat"},
    {"abated", "abat"}, {"abatement", "abat"}, {"abatements", "abat"}, {"abates", "abat"},
    {"abbess", "abbess"}, {"abbey", "abbei"}, {"abbeys", "abbei"}, {"abbominable", "abbomin"},
    {"abbot", "abbot"}, {"abbots", "abbot"}, {"abbreviated", "abbrevi"}, {"abed", "ab"},
    {"abel", "abel"}, {"aberga", "aberga"}, {"abergavenny", "abergavenni"}, {"abet", "abet"},
    {"abetting", "abet"}, {"abhominable", "abhomin"}, {"abhor", "abhor"}, {"abhorr", "abhorr"},
    {"abhorred", "abhor"}, {"abhorring", "abhor"}, {"abhors", "abhor"}, {"abhorson", "abhorson"},
    {"abide", "abid"}, {"abides", "abid"}, {"abilities", "abil"}, {"ability", "abil"},
    {"abject", "abject"}, {"abjectly", "abjectli"}, {"abjects", "abject"}, {"abjur", "abjur"},
    {"abjure", "abjur"}, {"able", "abl"}, {"abler", "abler"}, {"aboard", "aboard"},
    {"abode", "abod"}, {"aboded", "abod"}, {"abodements", "abod"}, {"aboding", "abod"},
    {"abominable", "abomin"}, {"abominably", "abomin"}, {"abominations", "abomin"},
    {"abortive", "abort"}, {"abortives", "abort"}, {"abound", "abound"}, {"abounding", "abound"},
    {"about", "about"}, {"above", "abov"}, {"abr", "abr"}, {"abraham", "abraham"},
    {"abram", "abram"}, {"abreast", "abreast"}, {"abridg", "abridg"}, {"abridge", "abridg"},
    {"abridged", "abridg"}, {"abridgment", "abridg"}, {"abroach", "abroach"}, {"abroad", "abroad"},
    {"abrogate", "abrog"}, {"abrook", "abrook"}, {"abrupt", "abrupt"}, {"abruption", "abrupt"},
    {"abruptly", "abruptli"}, {"absence", "absenc"}, {"absent", "absent"}, {"absey", "absei"},
    {"absolute", "absolut"}, {"absolutely", "absolut"}, {"absolv", "absolv"},
    {"absolver", "absolv"}, {"abstains", "abstain"}, {"abstemious", "abstemi"},
    {"abstinence", "abstin"}, {"abstract", "abstract"}, {"absurd", "absurd"}, {"abuse", "abus"},
    {"abused", "abus"}, {"abuser", "abus"}, {"abuses", "abus"}, {"abusing", "abus"},
    {"abysm", "abysm"}, {"academe", "academ"}, {"academes", "academ"}, {"accent", "accent"},
    {"accents", "accent"}, {"accept", "accept"}, {"acceptable", "accept"}, {"acceptance", "accept"},
    {"accepted", "accept"}, {"accepts", "accept"}, {"access", "access"}, {"accessary", "accessari"},
    {"accessible", "access"}, {"accidence", "accid"}, {"accident", "accid"},
    {"accidental", "accident"}, {"accidentally", "accident"}, {"accidents", "accid"},
    {"accite", "accit"}, {"accited", "accit"}, {"accites", "accit"}, {"acclamations", "acclam"},
    {"accommodate", "accommod"}, {"accommodated", "accommod"}, {"accommodation", "accommod"},
    {"accommodations", "accommod"}, {"accompanied", "accompani"}, {"accompany", "accompani"},
    {"accompanying", "accompani"}, {"accomplices", "accomplic"}, {"accomplish", "accomplish"},
    {"accomplished", "accomplish"}, {"accomplishing", "accomplish"},
    {"accomplishment", "accomplish"}, {"accompt", "accompt"}, {"accord", "accord"},
    {"accordant", "accord"}, {"accorded", "accord"}, {"accordeth", "accordeth"},
    {"according", "accord"}, {"accordingly", "accordingli"}, {"accords", "accord"},
    {"accost", "accost"}, {"accosted", "accost"}, {"account", "account"}, {"accountant", "account"},
    {"accounted", "account"}, {"accounts", "account"}, {"accoutred", "accoutr"},
    {"accoutrement", "accoutr"}, {"accoutrements", "accoutr"}, {"accrue", "accru"},
    {"accumulate", "accumul"}, {"accumulated", "accumul"}, {"accumulation", "accumul"},
    {"accurs", "accur"}, {"accursed", "accurs"}, {"accurst", "accurst"}, {"accus", "accu"},
    {"accusation", "accus"}, {"accusations", "accus"}, {"accusative", "accus"},
    {"accusativo", "accusativo"}, {"accuse", "accus"}, {"accused", "accus"}, {"accuser", "accus"},
    {"accusers", "accus"}, {"accuses", "accus"}, {"accuseth", "accuseth"}, {"accusing", "accus"},
    {"accustom", "accustom"}, {"accustomed", "accustom"}, {"ace", "ac"}, {"acerb", "acerb"},
    {"ache", "ach"}, {"acheron", "acheron"}, {"aches", "ach"}, {"achiev", "achiev"},
    {"achieve", "achiev"}, {"achieved", "achiev"}, {"achievement", "achiev"},
    {"achievements", "achiev"}, {"achiever", "achiev"}, {"achieves", "achiev"},
    {"achieving", "achiev"}, {"achilles", "achil"}, {"aching", "ach"}, {"achitophel", "achitophel"},
    {"acknowledg", "acknowledg"}, {"acknowledge", "acknowledg"}, {"acknowledged", "acknowledg"},
    {"acknowledgment", "acknowledg"}, {"acknown", "acknown"}, {"acold", "acold"},
    {"aconitum", "aconitum"}, {"acordo", "acordo"}, {"acorn", "acorn"}, {"acquaint", "acquaint"},
    {"acquaintance", "acquaint"}, {"acquainted", "acquaint"}, {"acquaints", "acquaint"},
    {"acquir", "acquir"}, {"acquire", "acquir"}, {"acquisition", "acquisit"}, {"acquit", "acquit"},
    {"acquittance", "acquitt"}, {"acquittances", "acquitt"}, {"acquitted", "acquit"},
    {"acre", "acr"}, {"acres", "acr"}, {"across", "across"}, {"act", "act"}, {"actaeon", "actaeon"},
    {"acted", "act"}, {"acting", "act"}, {"action", "action"}, {"actions", "action"},
    {"actium", "actium"}, {"active", "activ"}, {"actively", "activ"}, {"activity", "activ"},
    {"actor", "actor"}, {"actors", "actor"}, {"acts", "act"}, {"actual", "actual"},
    {"acture", "actur"}, {"acute", "acut"}, {"acutely", "acut"}, {"caresses", "caress"},
    {"ponies", "poni"}, {"ties", "ti"}, {"caress", "caress"}, {"cats", "cat"}, {"feed", "feed"},
    {"agreed", "agre"}, {"plastered", "plaster"}, {"bled", "bled"}, {"motoring", "motor"},
    {"sing", "sing"}, {"conflated", "conflat"}, {"troubled", "troubl"}, {"sized", "size"},
    {"hopping", "hop"}, {"tanned", "tan"}, {"falling", "fall"}, {"hissing", "hiss"},
    {"fizzed", "fizz"}, {"failing", "fail"}, {"filing", "file"}, {"happy", "happi"}, {"sky", "sky"},
    {"relational", "relat"}, {"conditional", "condit"}, {"rational", "ration"},
    {"digitizer", "digit"}, {"operator", "oper"}, {"feudalism", "feudal"},
    {"decisiveness", "decis"}, {"hopefulness", "hope"}, {"callousness", "callous"},
    {"formality", "formal"}, {"sensitivity", "sensit"}, {"sensibility", "sensibl"},
    {"triplicate", "triplic"}, {"formative", "form"}, {"formalize", "formal"},
    {"electricity", "electr"}, {"electrical", "electr"}, {"hopeful", "hope"}, {"goodness", "good"},
    {"revival", "reviv"}, {"allowance", "allow"}, {"inference", "infer"}, {"airliner", "airlin"},
    {"gyroscopic", "gyroscop"}, {"adjustable", "adjust"}, {"defensible", "defens"},
    {"irritant", "irrit"}, {"replacement", "replac"}, {"adjustment", "adjust"},
    {"dependent", "depend"}, {"adoption", "adopt"}, {"homologous", "homolog"},
    {"communism", "commun"}, {"activate", "activ"}, {"angularity", "angular"},
    {"effective", "effect"}, {"bowdlerize", "bowdler"}, {"probate", "probat"}, {"rate", "rate"},
    {"cease", "ceas"}, {"controlling", "control"}, {"roll", "roll"}, {"generalizations", "gener"},
    {"oscillators", "oscil"}, {"connect", "connect"}, {"connected", "connect"},
    {"connecting", "connect"}, {"connection", "connect"}, {"connections", "connect"},
    {"camping", "camp"}, {"camped", "camp"}, {"camps", "camp"}, {"painting", "paint"},
    {"paintings", "paint"}, {"painted", "paint"}, {"adopted", "adopt"}, {"adopting", "adopt"},
    {"adoptive", "adopt"}, {"running", "run"}, {"runner", "runner"}, {"agencies", "agenc"},
    {"agency", "agenc"}, {"meeting", "meet"}, {"meetings", "meet"}, {"university", "univers"},
    {"universities", "univers"}, {"generously", "gener"}, {"generous", "gener"},
    {"knitting", "knit"}, {"swimming", "swim"}, {"pottery", "potteri"},
    {"relationship", "relationship"}, {"relationships", "relationship"}, {"friendly", "friendli"},
    {"friends", "friend"}, {"children", "children"}, {"child", "child"},
    {"transgender", "transgend"}, {"counseling", "counsel"}, {"counselor", "counselor"},
};

/* Stems word into buf and returns 1 if the result equals want. */
static int stems_to(const char *word, const char *want) {
    char buf[64];
    size_t n = strlen(word);
    memcpy(buf, word, n);
    size_t m = astro__porter_stem(buf, n);
    return m <= n && m == strlen(want) && memcmp(buf, want, m) == 0;
}

int main(void) {
    size_t npairs = sizeof PAIRS / sizeof PAIRS[0];
    int bad = 0;
    for (size_t i = 0; i < npairs; i++) {
        if (!stems_to(PAIRS[i].word, PAIRS[i].stem)) {
            fprintf(stderr, "stem-1.%zu: %s -> want %s\n", i, PAIRS[i].word, PAIRS[i].stem);
            bad++;
        }
    }
    CHECK("stem-1", bad == 0);
    CHECK("stem-1.n", npairs >= 300);

    /* Boundaries: nothing to strip, short words untouched. */
    char b[8] = "xyz";
    CHECK("stem-2.0", astro__porter_stem(b, 0) == 0);
    CHECK("stem-2.1", stems_to("s", "s"));
    CHECK("stem-2.2", stems_to("is", "is"));
    CHECK("stem-2.3", stems_to("ies", "i"));
    CHECK("stem-2.4", stems_to("sss", "sss"));
    CHECK("stem-2.5", stems_to("ing", "ing"));
    CHECK("stem-2.6", stems_to("eed", "eed"));
    CHECK("stem-2.7", stems_to("1990s", "1990"));
    CHECK("stem-2.8", stems_to("2023", "2023"));
    /* Idempotent on its own output for these words. */
    CHECK("stem-3.0", stems_to("camp", "camp") && stems_to("connect", "connect") && stems_to("gener", "gener"));

    return check_report("test_stem");
}
