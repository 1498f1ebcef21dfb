"""The person-matching model as a specification: comparisons, blocking keys, thresholds.

Read this module to know the whole model (Splink style). Everything else in
`matchers.resolution` executes what is written here and defines no threshold of its own.

Stage 1 (deterministic): rows sharing a valid normalised ID are one person.
Stage 2 (candidates): DuckDB equi-joins on the blocking keys below; one side of every pair is a
row without a valid ID (two valid IDs are never compared: they are two people by definition).
Stage 3 (Fellegi-Sunter): each candidate pair gets one level per comparison; the match weight is
the prior plus the sum of the level weights (log2 m/u), names adjusted by term frequency. The prior
is ρ/N: ρ the share of records whose person has other records (from Stage 1), N the nodes of the
run (persons by valid ID, earlier persons, rows without one); with the name's term frequency
(share of nodes) it makes a unique name strong evidence and 张伟 weak, at any scale.
"""

from __future__ import annotations

from dataclasses import dataclass

MODEL_VERSION = 5


@dataclass(frozen=True)
class Level:
    key: str  # identifier stored in the model file
    label: str  # Chinese text in the explanation shown to officers
    tf: bool = False  # term-frequency adjusted (names: 张伟 agreeing is weak, 欧阳翠花 strong)


@dataclass(frozen=True)
class Comparison:
    key: str
    label: str
    levels: tuple[Level, ...]  # in order, first that holds wins; "null" (no data) is implicit
    note: str = ""

    def level_index(self, key: str) -> int:
        for i, level in enumerate(self.levels):
            if level.key == key:
                return i
        raise KeyError(key)


# ---- comparisons ------------------------------------------------------------------------------
# The ID comparison looks at the 17 significant digits (a valid ID, or the digits kept from a
# failed-check ID). One mistyped digit or two swapped neighbours always break the MOD 11-2 check,
# so such a row never carries a valid ID.
ID = Comparison(
    "id",
    "身份证号",
    (
        Level("exact", "身份证号前17位相同"),
        Level("one_substitution", "身份证号差一位"),
        Level("one_transposition", "身份证号相邻两位颠倒"),
        Level("else", "身份证号不同"),
    ),
)

# What an Excel-truncated ID keeps (`4.20115E+17`: the first 6 digits, the region code) against the
# other side's digits: a comparison of its own, so that its u is measured among pairs with a
# truncated side (about one in 13 strangers share a region), not among all pairs where a prefix
# agreement looks rare. Measured among all pairs, agreeing on a region code would weigh about +8 and
# link namesakes of one district with a truncated ID automatically.
ID_PREFIX = Comparison(
    "id_prefix",
    "截断的身份证号",
    (Level("agree", "截断身份证号的前几位一致"), Level("else", "截断身份证号的前几位不同")),
    note="only where one side is an Excel-truncated ID and the other has digits",
)

NAME = Comparison(
    "name",
    "姓名",
    (
        Level("exact", "姓名相同", tf=True),
        Level("simplified", "姓名繁简/间隔号转换后相同", tf=True),
        Level("pinyin", "姓名拼音相同", tf=True),
        Level("wildcard", "姓名含生僻字占位符且其余相同"),
        Level("one_char", "姓名差一个字"),
        Level("else", "姓名不同"),
    ),
)

# Birth date, sex and region derived from an ID are NOT independent of the ID comparison: they
# are compared only for pairs whose ID comparison is null (e.g. a J/L student number against an
# ID, a truncated ID, no ID at all). Counting them twice makes strangers born the same day match.
BIRTH = Comparison(
    "birth",
    "出生日期",
    (
        Level("exact", "出生日期相同"),
        Level("same_year", "出生年份相同"),
        Level("else", "出生日期不同"),
    ),
    note="only where the ID comparison is null",
)

SEX = Comparison(
    "sex",
    "性别",
    (Level("exact", "性别相同"), Level("else", "性别不同")),
    note="only where the ID comparison is null",
)

DISTRICT = Comparison(
    "district",
    "所在区",
    (Level("exact", "所在区相同"), Level("else", "所在区不同")),
)

# Where in the district: 乡镇(街道) and 社区(村), given by every roll except the medical settlements.
# Compared only where the districts agree and both sides give a street, so it says how much more a
# shared street or community weighs than a shared district (its u is measured among pairs of the
# same district: no double counting of the district). Two namesakes of one district are told apart
# by where they live; one person's records name the same place.
ADDRESS = Comparison(
    "address",
    "街道社区",
    (
        Level("community", "街道、社区相同"),
        Level("street", "街道相同、社区不同"),
        Level("else", "街道不同"),
    ),
    note="only where the districts agree and both sides give a street",
)

# Medical settlements: a settlement row is compared with everything the other person has settled
# this quarter (all the medical rows of that person's node, whichever of its records the pair
# holds): the same patient's settlements name the same illness far more often than a stranger has
# settled that illness at all; a namesake with no settlement at all is weaker evidence against. m
# per settlement row with a valid ID whose person has other rows, against that person's *other*
# settlements (one vote per row, as every row may be the one whose ID went missing:
# sql_text.DIAGNOSIS_LABELLED); u from random pairs.
DIAGNOSIS = Comparison(
    "diagnosis",
    "疾病名称",
    (
        Level("exact", "对方有同一疾病的医保结算"),
        Level("else", "对方医保结算的疾病不同"),
        Level("none", "对方本季度无医保结算"),
    ),
    note="only where one side is a medical settlement",
)

# Household evidence. A row's context is the other members of its household roll (assistance,
# poverty: same source and household_id) that carry a valid ID, the guardian named by a student
# row (guardian_id), and, for earlier persons, the households of the published index of earlier
# quarters. Two records share a member when the same person (by valid ID) sits in both contexts
# through two different rolls (the same roll is no evidence: it is the same listing). A candidate
# listed in the row's own roll with another relation (户主 vs 子女), or named as the row's guardian,
# is another person of that household ("related"); listed there with the same or no relation it may
# be a duplicate entry of the same person or a namesake relative: no household evidence either way.
HOUSEHOLD = Comparison(
    "household",
    "同户成员",
    (
        Level("related", "对方是本行同户另一成员或监护人"),
        Level("same_roll", "对方与本行同在一户名册"),
        Level("shared_2", "两名以上同户成员一致"),
        Level("shared_1", "同户成员一致"),
        Level("none", "同户成员无一致"),
    ),
    note="null unless both sides have a household context",
)

COMPARISONS: tuple[Comparison, ...] = (ID, ID_PREFIX, NAME, BIRTH, SEX, DISTRICT, ADDRESS, DIAGNOSIS, HOUSEHOLD)

# ---- blocking -----------------------------------------------------------------------------------
# Each rule is an SQL expression over the profile table (`matchers.resolution.blocking`): rows whose
# keys are equal become candidate pairs. Null keys never block. The five id_* keys catch every
# single substitution and every adjacent transposition in the 17 digits (pigeonhole over parts).


@dataclass(frozen=True)
class BlockingRule:
    key: str
    label: str
    sql: str  # over columns id17, id_prefix, name_key, name_pinyin, surname_pinyin, birth, district


BLOCKING_RULES: tuple[BlockingRule, ...] = (
    BlockingRule("id_region_birth", "身份证号前14位", "substr(id17, 1, 14)"),
    BlockingRule("id_birth_seq", "身份证号第7-17位", "substr(id17, 7, 11)"),
    BlockingRule("id_region_seq", "身份证号地区码+顺序码", "substr(id17, 1, 6) || substr(id17, 15, 3)"),
    BlockingRule("id_swap_6_7", "身份证号第6/7位互换", "substr(id17, 1, 5) || substr(id17, 8, 10)"),
    BlockingRule("id_swap_14_15", "身份证号第14/15位互换", "substr(id17, 1, 13) || substr(id17, 16, 2)"),
    BlockingRule(
        "truncated_prefix_pinyin",
        "截断身份证号前6位+姓名拼音",
        "coalesce(substr(id_prefix, 1, 6), substr(id17, 1, 6)) || '|' || name_pinyin",
    ),
    BlockingRule("birth_surname", "出生日期+姓氏拼音", "CAST(birth AS VARCHAR) || '|' || surname_pinyin"),
    BlockingRule("pinyin_birth", "姓名拼音+出生日期", "name_pinyin || '|' || CAST(birth AS VARCHAR)"),
    BlockingRule("name_district", "姓名+所在区", "name_key || '|' || district"),
    BlockingRule("pinyin_district", "姓名拼音+所在区", "name_pinyin || '|' || district"),
    BlockingRule("name", "姓名", "name_key"),  # rows without district: capped on common names
)

# A block whose pairs (rows without a valid ID × all profiles sharing the key) exceed this is
# skipped and reported (a block on 张伟 alone must never explode).
MAX_BLOCK_PAIRS = 20_000

PAIR_CHUNK = 200_000  # candidate pairs compared per batch (bounds memory at any scale)
GUARDIAN_CHUNK = 5_000  # guardians without a valid ID scored per batch, with all their namesakes

# ---- thresholds ---------------------------------------------------------------------------------
AUTO_LINK_PROBABILITY = 0.99  # at or above: linked (概率匹配)
REVIEW_PROBABILITY = 0.80  # at or above, below auto-link: linked, marked 待核实 (rule Q03)
# A row without a valid ID whose best candidate person is far ahead of every other candidate is
# linked to it from this probability up, also marked 待核实 (Q03): an officer checks one named
# person rather than a row that names nobody. "Far ahead": at least this many bits (2^6 = 64 times
# the odds) above the next candidate, or no other candidate at all.
SOLE_CANDIDATE_PROBABILITY = 0.50
SOLE_CANDIDATE_MARGIN_BITS = 6.0
SOLE_CANDIDATE_NOTE = "唯一明显候选人"
# A guardian named on an education row without a valid ID goes to a person from this posterior
# among all the persons bearing the name (resolution.guardians): the automatic link's threshold,
# since a guardian link has no 待核实 mark an officer would see.
GUARDIAN_LINK_PROBABILITY = AUTO_LINK_PROBABILITY

# ---- training -----------------------------------------------------------------------------------
U_SAMPLE_PAIRS = 200_000  # random pairs for the u probabilities
U_FLOOR = 1e-6  # a level never seen among random pairs
M_FLOOR = 1e-3  # a level never seen among true matches still happens now and then
LABELLED_PAIRS = 200_000  # pairs of rows sharing a valid ID: m of the comparisons other than the ID
# m of these comparisons comes from the Stage 1 pairs (rows sharing a valid ID: known matches);
# EM on the candidates estimates the rest (the ID comparison) with these held fixed.
M_FROM_LABELLED = ("name", "birth", "sex", "district", "address", "diagnosis", "household")
# Levels whose m is fixed by what we know of the errors, not learnt: a true match whose 17 digits
# differ by more than one typo/transposition, or whose truncated prefix disagrees, is very rare.
# (Left to EM, the many strangers sharing a common name and a blocking key inflate it.)
M_FIXED_LEVELS = {"id": {"else": 0.002}, "id_prefix": {"else": 0.002}}
# m measured on rows sharing a valid ID, except where the level cannot happen to one person:
# a roll never lists one person twice, a student is not his own guardian.
M_FIXED_LABELLED_LEVELS = {"household": {"related": 0.001, "same_roll": 0.01}}
# u of the household levels is not learnt from random pairs: two random people almost never share
# a household member, but the pairs scored here already share a name, and namesakes sharing a
# household member are relatives (a grandson named after nobody else in the family is the rule,
# not a law). Fixed conservatively: 1 namesake stranger in 1,000 shares one member, 1 in 10,000
# two. "related" (m 0.001, u 0.5) weighs about −9: strong evidence of two people, not a veto;
# "same_roll" (m = u) weighs 0.
U_FIXED_LEVELS = {"household": {"related": 0.5, "same_roll": 0.01, "shared_2": 1e-4, "shared_1": 1e-3}}
EM_ITERATIONS = 60
EM_TOLERANCE = 1e-7
EM_SAMPLE_PAIRS = 300_000  # candidate pairs (a hash-ordered sample) EM runs on: bounded at any scale

# ---- the quarter's own model, and when the shipped one is used instead -------------------------
# Every full run estimates the model on the quarter it links (`training.quarter_model`); the
# shipped person_model.json is the fallback. "Too little evidence": an m estimated from fewer
# known-match pairs than below moves by several percentage points between two samples of the same
# quarter (binomial error √(p(1−p)/n): at 200 pairs a level seen 5 % of the time is known to ±1.5
# points, which for rare disagreeing levels is a factor of 1.3, a third of a bit); the comparisons
# given by fewer rolls (address: rolls with a street; diagnosis: settlement rows whose person has
# other rows; household: rows with a roll on both sides) need fewer since only their presence is
# compared. u of the rarest agreeing levels (an exact birth date, about 1 in 20,000 strangers)
# needs random pairs in the tens of thousands to be seen at all. EM needs candidates whose ID
# comparison holds to separate its levels' m.
MIN_LABELLED_PAIRS_DEFAULT = 200
MIN_LABELLED_PAIRS = {"address": 50, "diagnosis": 30, "household": 30}
# Comparisons every candidate pair is scored on: too few known-match pairs for one of these and
# the whole quarter falls back to the shipped model. Any other comparison with too few (a quarter
# whose rolls give no street, no settlement, no household) borrows that comparison's m and u from
# the shipped model: it applies to few pairs, and those are scored as the shipped model scores them.
CORE_COMPARISONS = ("name", "birth", "district")
MIN_RANDOM_PAIRS = 20_000
MIN_EM_PAIRS = 30
# "Implausible": a level of full agreement (listed here) whose m is below its u says agreement is
# evidence against a match: the sample is wrong, not the world. Partial levels are not listed: a
# name one character off, the same birth year on another day, the same street in another community
# are rarer among one person's records than among the namesakes blocked together, and weigh
# against by design. A level weight more than MAX_WEIGHT_SHIFT_BITS (a factor 2^10 = 1,024 in the
# odds) from the shipped model's is taken for a broken extract (a column emptied or filled with
# one value), not a population unlike the sample.
AGREEING_LEVELS = {
    "id": ("exact", "one_substitution", "one_transposition"),
    "id_prefix": ("agree",),
    "name": ("exact", "simplified", "pinyin", "wildcard"),
    "birth": ("exact",),
    "sex": ("exact",),
    "district": ("exact",),
    "address": ("community",),
    "diagnosis": ("exact",),
    "household": ("shared_2", "shared_1"),
}
MAX_WEIGHT_SHIFT_BITS = 10.0
TF_MINIMUM = 1e-6  # term frequency floor for a name seen once in a very large extract

# ---- labels (match_method) ----------------------------------------------------------------------
METHOD_EXACT_ID = "身份证号一致"
METHOD_REPAIRED_ID = "身份证号修复后一致"
METHOD_PROBABILISTIC = "概率匹配"
METHOD_REVIEW = "概率匹配(待核实)"
METHOD_NEW = "新建人员"
