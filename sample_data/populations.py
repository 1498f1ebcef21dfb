"""The populations the generator can draw: who lives in the city and how departments damage cells.

`default` is the population of the committed sample (its values reproduce that sample byte for
byte). `city2` is a second city for testing on data the pipeline was never tuned on: real-world-like
name frequencies (a heavy head of common surnames and given names, so many more namesakes), patients
whose settlements carry different diagnoses, other damage rates (guardians named without an ID too)
and another household mix (larger families, more students, disabled and monitored households,
grandchildren left off the rolls and reachable only through their guardian). Nothing in the pipeline may be tuned on city2.

Damage rates are cumulative thresholds on one uniform draw, in the order `generate.id_cell` and
`generate.name_cell` test them, so each share is the difference between neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import pools


@dataclass(frozen=True)
class Population:
    name: str
    description: str
    # ---- names ---------------------------------------------------------------------------------
    surname_weights: tuple[float, ...]
    given_name_zipf: float | None  # None: given names drawn uniformly from their pool; else 1/rank**s
    common_full_name_share: float  # persons born before 2000 who get one of pools.COMMON_FULL
    namesake_head_share: float  # heads named like the district's previous head (same year of birth)
    homophone_head_share: float
    # ---- household mix -------------------------------------------------------------------------
    kind_weights: tuple[int, ...]  # world.KINDS
    children: tuple[int, ...]  # number of children of a head aged ≤ 60, drawn uniformly from these
    study_share_minor: float  # persons aged 3-18 who study
    study_share_adult: float  # persons aged 19-22 who study
    disability_scale: float  # multiplies the chance of a disability certificate
    monitored_share_lifted: float  # 已脱贫 poverty households with a monitor type
    monitored_share_other: float
    grandchild_off_roll_share: float  # families whose grandchildren are on no roll of theirs
    # ---- medical -------------------------------------------------------------------------------
    diagnosis_change_share: float  # settlements of a patient that carry another diagnosis
    # ---- damage --------------------------------------------------------------------------------
    # cumulative: space, dash, apostrophe, fullwidth, trailing .0, 15 digits, Excel scientific,
    # wrong check, mistyped digit, transposed digits, missing
    id_damage: tuple[float, ...]
    id_lowercase_x: float
    disability_cert_only: float
    student_number: tuple[float, float]  # cumulative: J number only, L number only
    student_g_only: float
    guardian_id_missing: float  # education rows that name the guardian without an ID
    name_damage: tuple[float, float, float]  # cumulative: inner space, ideographic space, traditional
    name_rare_placeholder: float
    name_dot_variant: float


DEFAULT = Population(
    name="default",
    description="the committed sample's population",
    surname_weights=pools.SURNAME_WEIGHTS,
    given_name_zipf=None,
    common_full_name_share=0.12,
    namesake_head_share=0.03,
    homophone_head_share=0.02,
    kind_weights=(20, 5, 20, 10, 10, 35),
    children=(0, 1, 1, 2, 2, 3),
    study_share_minor=0.93,
    study_share_adult=0.5,
    disability_scale=1.0,
    monitored_share_lifted=0.35,
    monitored_share_other=0.3,
    grandchild_off_roll_share=0.0,
    diagnosis_change_share=0.0,
    id_damage=(0.010, 0.016, 0.024, 0.030, 0.035, 0.043, 0.048, 0.053, 0.058, 0.063, 0.073),
    id_lowercase_x=0.08,
    disability_cert_only=0.10,
    student_number=(0.03, 0.05),
    student_g_only=0.12,
    guardian_id_missing=0.0,
    name_damage=(0.015, 0.021, 0.04),
    name_rare_placeholder=0.35,
    name_dot_variant=0.5,
)

# Shares (per cent) of the 30 commonest surnames in the 2020 census, in pools.SURNAMES order
# (王 李 张 刘 陈 ...); the other surnames of the pool share a tail falling off as 1/rank.
_CENSUS_HEAD = (7.12, 7.00, 6.74, 5.10, 4.61, 3.22, 2.45, 2.29, 2.05, 1.99, 1.60, 1.49, 1.45, 1.31,
                1.28, 1.22, 1.18, 1.15, 1.05, 0.86, 0.83, 0.81, 0.78, 0.72, 0.68, 0.67, 0.64, 0.62,
                0.61, 0.55)
_CENSUS_WEIGHTS = _CENSUS_HEAD + tuple(
    round(0.55 * 30 / (30 + i), 3) for i in range(1, len(pools.SURNAMES) - len(_CENSUS_HEAD) + 1)
)

CITY2 = Population(
    name="city2",
    description="a second city: census surname shares, Zipf given names, other damage and household mix",
    surname_weights=_CENSUS_WEIGHTS,
    given_name_zipf=1.0,
    common_full_name_share=0.20,
    namesake_head_share=0.08,
    homophone_head_share=0.03,
    kind_weights=(24, 4, 16, 12, 8, 36),
    children=(0, 1, 2, 2, 3, 3, 4),
    study_share_minor=0.97,
    study_share_adult=0.6,
    disability_scale=1.3,
    monitored_share_lifted=0.5,
    monitored_share_other=0.4,
    grandchild_off_roll_share=0.3,
    diagnosis_change_share=0.35,
    id_damage=(0.012, 0.020, 0.026, 0.034, 0.040, 0.052, 0.060, 0.066, 0.080, 0.088, 0.118),
    id_lowercase_x=0.15,
    disability_cert_only=0.06,
    student_number=(0.05, 0.07),
    student_g_only=0.18,
    guardian_id_missing=0.25,
    name_damage=(0.010, 0.020, 0.055),
    name_rare_placeholder=0.5,
    name_dot_variant=0.7,
)

POPULATIONS: dict[str, Population] = {p.name: p for p in (DEFAULT, CITY2)}
assert len(_CENSUS_WEIGHTS) == len(pools.SURNAMES)
