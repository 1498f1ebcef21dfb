"""Realistic value pools: Wuhan places, region codes, names. District names come from contract.py."""

from __future__ import annotations

from matchers.contract import WUHAN_DISTRICTS

# Current region code of each Wuhan district (GB/T 2260).
DISTRICT_CODES: dict[str, str] = dict(zip(WUHAN_DISTRICTS, (
    "420102", "420103", "420104", "420105", "420106", "420107", "420111",
    "420112", "420113", "420114", "420115", "420116", "420117",
)))
assert len(DISTRICT_CODES) == len(WUHAN_DISTRICTS)

# Codes printed on IDs issued before the county-to-district reforms (武昌县 → 江夏区 etc.):
# still valid on older IDs and still first digits "4201".
OLD_WUHAN_CODES: dict[str, str] = {
    "江夏区": "420122", "黄陂区": "420123", "新洲区": "420124", "蔡甸区": "420121",
    "汉南区": "420101", "东西湖区": "420101",
}
# Birthplaces outside Wuhan (Hubei counties, neighbouring provinces, Xinjiang for Uyghur names).
OTHER_REGION_CODES = ("421002", "421102", "420902", "420222", "422801", "421281", "430102",
                      "411503", "360102", "500101")
XINJIANG_CODES = ("650102", "653101", "652801")

NEW_CITY_DISTRICTS = ("东西湖区", "汉南区", "蔡甸区", "江夏区", "黄陂区", "新洲区")

STREETS: dict[str, tuple[str, ...]] = {
    "江岸区": ("大智街道", "一元街道", "车站街道", "四唯街道", "西马街道", "后湖街道", "百步亭花园路街道"),
    "江汉区": ("民族街道", "花楼街道", "水塔街道", "民权街道", "万松街道", "唐家墩街道", "北湖街道"),
    "硚口区": ("古田街道", "韩家墩街道", "宗关街道", "汉水桥街道", "宝丰街道", "荣华街道", "汉中街道"),
    "汉阳区": ("建桥街道", "晴川街道", "鹦鹉街道", "洲头街道", "五里墩街道", "琴断口街道", "永丰街道"),
    "武昌区": ("积玉桥街道", "杨园街道", "徐家棚街道", "粮道街道", "中华路街道", "白沙洲街道", "南湖街道"),
    "青山区": ("红卫路街道", "冶金街道", "新沟桥街道", "红钢城街道", "工人村街道", "青山镇街道", "武东街道"),
    "洪山区": ("珞南街道", "关山街道", "狮子山街道", "张家湾街道", "梨园街道", "卓刀泉街道", "青菱街道"),
    "东西湖区": ("吴家山街道", "将军路街道", "慈惠街道", "走马岭街道", "径河街道", "长青街道", "辛安渡办事处"),
    "汉南区": ("纱帽街道", "东荆街道", "湘口街道", "邓南街道"),
    "蔡甸区": ("蔡甸街道", "奓山街道", "永安街道", "侏儒山街道", "大集街道", "张湾街道", "索河街道"),
    "江夏区": ("纸坊街道", "金口街道", "郑店街道", "五里界街道", "乌龙泉街道", "山坡街道", "法泗街道"),
    "黄陂区": ("前川街道", "祁家湾街道", "横店街道", "罗汉寺街道", "滠口街道", "六指街道", "木兰乡"),
    "新洲区": ("邾城街道", "阳逻街道", "仓埠街道", "汪集街道", "李集街道", "三店街道", "旧街街道"),
}
_URBAN_COMMUNITY = ("幸福", "和平", "建设", "友谊", "解放", "花园", "民主", "长春", "新华", "育才",
                    "桥东", "滨江", "惠民", "永安", "复兴", "光明", "学府", "春晖")
_VILLAGE = ("张湾", "李家墩", "王家店", "陈家岭", "刘家咀", "黄土坡", "杨家湾", "胡家台", "徐家畈",
            "周家铺", "何家岗", "罗家寨", "童家湖", "熊家嘴", "姚家集")


def communities(district: str, street: str) -> tuple[str, ...]:
    """3-4 communities per street, fixed by the street's position (same every run)."""
    rural = district in NEW_CITY_DISTRICTS
    k = sum(map(ord, street))
    if rural:
        base = [_VILLAGE[(k + 3 * i) % len(_VILLAGE)] + "村" for i in range(3)]
        return tuple(base + [_URBAN_COMMUNITY[k % len(_URBAN_COMMUNITY)] + "社区"])
    return tuple(_URBAN_COMMUNITY[(k + 5 * i) % len(_URBAN_COMMUNITY)] + "社区" for i in range(4))


# ---- names ----------------------------------------------------------------------------------
SURNAMES = ("王李张刘陈杨黄赵吴周徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
            "苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史")
# Rough frequency: the first surnames are far more common.
SURNAME_WEIGHTS = tuple(max(1.0, 12.0 - i * 0.6) for i in range(len(SURNAMES)))
COMPOUND_SURNAMES = ("欧阳", "司马", "诸葛", "上官", "皇甫")

GIVEN = {
    # (sex, generation) -> given names; generation 0 born < 1965, 1 born 1965-1999, 2 born >= 2000
    ("男", 0): ("建国", "国强", "志明", "德华", "长生", "金山", "福生", "建华", "卫东", "国平", "伟", "强", "军"),
    ("男", 1): ("伟", "强", "磊", "军", "勇", "杰", "涛", "明", "超", "刚", "平", "辉", "鹏", "斌", "志强", "海涛", "俊"),
    ("男", 2): ("子轩", "浩然", "宇轩", "梓豪", "俊杰", "一鸣", "浩", "宇", "轩", "博文", "皓轩", "天佑", "洋"),
    ("女", 0): ("秀英", "桂英", "玉兰", "秀兰", "凤英", "桂兰", "淑珍", "翠华", "秀珍", "兰英", "芳"),
    ("女", 1): ("芳", "娜", "敏", "静", "丽", "艳", "娟", "霞", "红", "玲", "萍", "燕", "秀英", "丹", "洁"),
    ("女", 2): ("欣怡", "梓涵", "诗涵", "子涵", "雨萱", "可馨", "思琪", "佳怡", "一诺", "语嫣", "婷", "雪"),
}
# Names so common that many unrelated people share them (weights within the tier).
COMMON_FULL = {
    "男": ("张伟", "王伟", "李伟", "刘伟", "李强", "刘洋", "王磊", "王勇", "李军", "张勇", "张杰", "王强", "张磊"),
    "女": ("王芳", "李娜", "王秀英", "李秀英", "张秀英", "张敏", "李静", "张丽", "王静", "王丽", "刘芳", "王艳"),
}
COMMON_WEIGHTS = {"男": (10, 5, 4, 4, 4, 8, 3, 3, 3, 3, 3, 3), "女": (10, 8, 8, 4, 4, 4, 4, 3, 3, 3, 3, 3)}
COMMON_WEIGHTS = {s: w + (3,) * (len(COMMON_FULL[s]) - len(w)) for s, w in COMMON_WEIGHTS.items()}
# Characters outside common input methods: departments type `?`, `□` or `_` for them.
RARE_GIVEN = {"男": ("喆", "堃", "犇", "镕", "昇", "赟", "垚"), "女": ("玥", "祎", "珺", "婍", "琤", "翀")}
RARE_CHARS = frozenset("喆堃犇镕昇赟垚玥祎珺婍琤翀")
MINORITY = {
    "男": ("艾力·吐尔逊", "买买提·依明", "阿布都·热合曼", "努尔兰·阿依丁", "吐尔洪·艾买提"),
    "女": ("阿依古丽·买买提", "古丽娜尔·艾买提", "热依拉·阿不都", "迪丽娜尔·阿布都", "帕提古丽·吾斯曼"),
}
# Homophone pairs (different people, names that sound alike).
HOMOPHONES = (("王红铭", "王红明"), ("李静", "李晶"), ("张伟", "张玮"), ("刘洋", "刘阳"),
              ("陈丽", "陈莉"), ("杨帆", "杨凡"), ("周敏", "周民"))
