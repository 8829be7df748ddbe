"""The words the query parser understands, in English and Korean.

Colour words map to weights over the indexer's 11 basic colour names (see
:mod:`core.vision.colours`). The first name of each entry has weight 1; the others are
what the same cloth often looks like to the colour namer (navy reads partly black, cream partly
brown), so a witness's "navy" still matches a jacket the camera saw as blue-black.

Garment nouns decide whether a colour describes the upper or the lower body. Accessory nouns (bags,
hats, shoes, hair...) absorb the colours in front of them: "black handbag" must not make the upper
body black. Those phrases still reach CLIP as free text.
"""

from __future__ import annotations

Weights = dict[str, float]

# ------------------------------------------------------------------------------------------- colours

# Denim is dark indigo: on street cameras, blue jeans often read as much black as blue (the labelled jeans of
# Oxford and PETS 2009: legs 0.19-0.25 black, 0.11-0.20 blue). So a denim garment's own colour carries that
# reading as navy does (as far as the legs show a trace of blue: black trousers show none), and jeans without
# a colour are blue (far more often than not) read the same way. The weight was chosen on PETS 2009 + Intel
# and checked on Oxford (bench/text_quality.py, "denim reading").
DENIM_DARK = 0.5
DENIM: Weights = {"blue": 1.0, "black": DENIM_DARK}
EN_COLOURS: dict[str, Weights] = {
    "black": {"black": 1.0},
    "blue": {"blue": 1.0},
    "brown": {"brown": 1.0},
    "grey": {"grey": 1.0},
    "gray": {"grey": 1.0},
    "green": {"green": 1.0},
    "orange": {"orange": 1.0},
    "pink": {"pink": 1.0},
    "purple": {"purple": 1.0},
    "red": {"red": 1.0, "pink": 0.5},
    "white": {"white": 1.0},
    "yellow": {"yellow": 1.0},
    # synonyms
    "navy": {"blue": 1.0, "black": 0.5},
    "denim": {"blue": 1.0},
    "beige": {"white": 1.0, "brown": 0.7, "grey": 0.4},
    "cream": {"white": 1.0, "brown": 0.6},
    "ivory": {"white": 1.0, "brown": 0.4},
    "off-white": {"white": 1.0, "grey": 0.5},
    "tan": {"brown": 1.0, "orange": 0.4},
    "camel": {"brown": 1.0, "orange": 0.4},
    "maroon": {"red": 1.0, "brown": 0.6, "purple": 0.4},
    "burgundy": {"red": 1.0, "purple": 0.6, "brown": 0.4},
    "wine": {"red": 1.0, "purple": 0.6},
    "crimson": {"red": 1.0},
    "scarlet": {"red": 1.0},
    "khaki": {"brown": 1.0, "green": 0.8},
    "olive": {"green": 1.0, "brown": 0.7},
    "charcoal": {"grey": 1.0, "black": 0.7},
    "silver": {"grey": 1.0, "white": 0.5},
    "gold": {"yellow": 1.0, "brown": 0.5},
    "turquoise": {"blue": 1.0, "green": 0.6},
    "teal": {"blue": 1.0, "green": 0.7},
    "cyan": {"blue": 1.0, "green": 0.5},
    "magenta": {"pink": 1.0, "purple": 0.6},
    "fuchsia": {"pink": 1.0, "purple": 0.6},
    "violet": {"purple": 1.0},
    "lavender": {"purple": 1.0, "pink": 0.4, "white": 0.3},
    "lilac": {"purple": 1.0, "pink": 0.4},
    "mauve": {"purple": 1.0, "pink": 0.6},
    # Fashion names witnesses use; without them "mustard jacket" or "mint top" said no colour at all.
    "golden": {"yellow": 1.0, "brown": 0.5},
    "mustard": {"yellow": 1.0, "brown": 0.6, "green": 0.3},
    "ochre": {"yellow": 1.0, "brown": 0.7, "orange": 0.4},
    "amber": {"orange": 1.0, "yellow": 0.7},
    "peach": {"orange": 1.0, "pink": 0.8, "white": 0.4},
    "apricot": {"orange": 1.0, "pink": 0.8, "white": 0.4},
    "coral": {"pink": 1.0, "orange": 0.8, "red": 0.5},
    "salmon": {"pink": 1.0, "orange": 0.7},
    "blush": {"pink": 1.0, "white": 0.4},
    "nude": {"pink": 1.0, "brown": 0.6, "white": 0.5},
    "rust": {"orange": 1.0, "brown": 0.8, "red": 0.6},
    "auburn": {"red": 1.0, "brown": 0.8},
    "plum": {"purple": 1.0, "red": 0.4, "black": 0.4},
    "indigo": {"blue": 1.0, "purple": 0.5, "black": 0.5},
    "cobalt": {"blue": 1.0},
    "aqua": {"blue": 1.0, "green": 0.6},
    "emerald": {"green": 1.0},
    "mint": {"green": 1.0, "white": 0.5, "blue": 0.3},
    "lime": {"green": 1.0, "yellow": 0.6},
    "taupe": {"brown": 1.0, "grey": 0.8},
    "oatmeal": {"white": 1.0, "brown": 0.6, "grey": 0.5},
    "caramel": {"brown": 1.0, "orange": 0.6},
    "bronze": {"brown": 1.0, "orange": 0.6, "yellow": 0.3},
    # "dark coat": a witness at night or at a distance; any dark cloth
    "dark": {"black": 1.0, "blue": 0.5, "brown": 0.5, "grey": 0.4},
}
EN_COLOUR_SUFFIXES = ("ish", "-ish", "y")  # reddish, greyish; "y" only for known stems (browny)

# "light-coloured top", "pale jacket", "밝은 색 상의": some light cloth, whichever colour - white and grey read
# most, then the light tints of beige, yellow, pink and blue. Not a lone "light" ("a light jacket" is as
# often a thin one), but "pale" and the Korean 밝은/연한 alone do name a shade.
LIGHT: Weights = {"white": 1.0, "grey": 0.7, "brown": 0.4, "yellow": 0.4, "pink": 0.4, "blue": 0.3}
LIGHT_SHADES = frozenset({"light", "pale", "밝은", "연한"})
LIGHT_ALONE = frozenset({"pale", "밝은", "연한"})
COLOUR_NOUNS = frozenset({"coloured", "colored", "colour", "color", "색", "색깔", "색의"})

# Words that change the colour after them: "dark blue" reads partly black, "light blue" partly white.
EN_MODIFIERS: dict[str, Weights] = {
    "dark": {"black": 0.6},
    "deep": {"black": 0.3},
    "light": {"white": 0.5},
    "pale": {"white": 0.5},
    "bright": {},
    "dull": {"grey": 0.4},
    "muted": {"grey": 0.4},
    "faded": {"white": 0.3, "grey": 0.3},
    "neon": {},
    "fluorescent": {},
    "vivid": {},
}

KO_COLOURS: dict[str, Weights] = {
    # stems match at the start of a word, so 빨간색/빨간색의/빨강 all hit
    "빨간": EN_COLOURS["red"], "빨강": EN_COLOURS["red"], "붉은": EN_COLOURS["red"], "적색": EN_COLOURS["red"],
    "레드": EN_COLOURS["red"],
    "파란": EN_COLOURS["blue"], "파랑": EN_COLOURS["blue"], "푸른": EN_COLOURS["blue"], "청색": EN_COLOURS["blue"],
    "블루": EN_COLOURS["blue"],
    "남색": EN_COLOURS["navy"], "곤색": EN_COLOURS["navy"], "네이비": EN_COLOURS["navy"],
    "하늘색": {"blue": 1.0, "white": 0.5},
    "검은": EN_COLOURS["black"], "검정": EN_COLOURS["black"], "까만": EN_COLOURS["black"],
    "까망": EN_COLOURS["black"], "흑색": EN_COLOURS["black"], "블랙": EN_COLOURS["black"],
    "흰": EN_COLOURS["white"], "하얀": EN_COLOURS["white"], "하양": EN_COLOURS["white"],
    "백색": EN_COLOURS["white"], "화이트": EN_COLOURS["white"],
    "회색": EN_COLOURS["grey"], "그레이": EN_COLOURS["grey"], "잿빛": EN_COLOURS["grey"],
    "노란": EN_COLOURS["yellow"], "노랑": EN_COLOURS["yellow"], "황색": EN_COLOURS["yellow"],
    "옐로": EN_COLOURS["yellow"],
    "초록": EN_COLOURS["green"], "녹색": EN_COLOURS["green"], "연두": {"green": 1.0, "yellow": 0.5},
    "그린": EN_COLOURS["green"],
    "주황": EN_COLOURS["orange"], "오렌지": EN_COLOURS["orange"],
    "분홍": EN_COLOURS["pink"], "핑크": EN_COLOURS["pink"],
    "보라": EN_COLOURS["purple"], "자주": EN_COLOURS["maroon"], "퍼플": EN_COLOURS["purple"],
    "갈색": EN_COLOURS["brown"], "밤색": EN_COLOURS["brown"], "브라운": EN_COLOURS["brown"],
    "베이지": EN_COLOURS["beige"], "크림": EN_COLOURS["cream"], "아이보리": EN_COLOURS["ivory"],
    "카키": EN_COLOURS["khaki"], "올리브": EN_COLOURS["olive"],
    "버건디": EN_COLOURS["burgundy"], "와인색": EN_COLOURS["wine"],
    "어두운": EN_COLOURS["dark"], "짙은색": EN_COLOURS["dark"],
    "겨자": EN_COLOURS["mustard"], "황토": EN_COLOURS["ochre"], "금색": EN_COLOURS["gold"],
    "은색": EN_COLOURS["silver"], "살구": EN_COLOURS["apricot"], "민트": EN_COLOURS["mint"],
    "청록": EN_COLOURS["teal"], "군청": EN_COLOURS["indigo"], "카멜": EN_COLOURS["camel"],
    "고동": {"brown": 1.0, "black": 0.5}, "차콜": EN_COLOURS["charcoal"],
}
KO_MODIFIERS: dict[str, Weights] = {
    "짙은": EN_MODIFIERS["dark"], "진한": EN_MODIFIERS["dark"], "진": EN_MODIFIERS["dark"],
    "밝은": EN_MODIFIERS["light"], "연한": EN_MODIFIERS["light"], "연": EN_MODIFIERS["light"],
    "형광": EN_MODIFIERS["neon"],
}
# Korean words that carry a colour of their own (청바지 = "blue trousers")
KO_IMPLIED: dict[str, Weights] = {"청바지": DENIM, "청재킷": DENIM, "청자켓": DENIM, "청치마": DENIM}

# --------------------------------------------------------------------------------------------- garments

UPPER, LOWER, FULL, ACCESSORY = "upper", "lower", "full", "accessory"

EN_GARMENTS: dict[str, str] = {
    **dict.fromkeys((
        "jacket", "coat", "shirt", "t-shirt", "tshirt", "tee", "top", "hoodie", "hoody", "hood", "cardigan",
        "sweater", "jumper", "pullover", "blouse", "parka", "anorak", "blazer", "vest", "waistcoat", "fleece",
        "sweatshirt", "raincoat", "overcoat", "windbreaker", "puffer", "gilet", "poncho", "tunic", "polo",
        "jersey", "cape", "mac", "trenchcoat", "trench", "upper", "bomber", "cagoule", "kagoul", "camisole",
        "cami", "kimono", "smock", "tabard", "hi-vis", "hivis",
    ), UPPER),
    **dict.fromkeys((
        "trousers", "trouser", "pants", "jeans", "skirt", "shorts", "leggings", "slacks", "chinos", "joggers",
        "sweatpants", "bottoms", "tights", "lower", "culottes", "jeggings", "cargos", "capris", "trackpants",
        "trackies",
    ), LOWER),
    **dict.fromkeys(("dress", "suit", "tracksuit", "uniform", "jumpsuit", "overalls", "gown", "robe",
                     "onesie", "outfit", "clothes", "clothing", "dungarees", "romper", "pinafore", "pyjamas",
                     "pajamas", "coveralls", "boilersuit"), FULL),
    **dict.fromkeys((
        "bag", "handbag", "backpack", "rucksack", "purse", "satchel", "briefcase", "hat", "cap", "beanie",
        "helmet", "shoes", "shoe", "boots", "boot", "sneakers", "trainers", "scarf", "umbrella", "gloves",
        "hair", "glasses", "sunglasses", "mask", "stroller", "pushchair", "pram", "buggy", "bicycle", "bike",
        "suitcase", "belt", "socks", "tote", "shopper", "carrier", "sandals", "headscarf", "hijab",
        "beard", "skin", "eyes", "car", "dog",
        # Footwear, headwear and small things: a colour before them says nothing about the clothes, and a
        # word missing here sent its colour to the torso ("green jacket and red wellies" -> upper red).
        "wellies", "wellingtons", "wellington", "heels", "stilettos", "loafers", "slippers", "flip-flops",
        "flipflops", "crocs", "clogs", "pumps", "flats", "brogues", "moccasins", "footwear", "sandal",
        "trainer", "sneaker", "beret", "bonnet", "headband", "bandana", "earmuffs", "headphones", "earphones",
        "lanyard", "tie", "bowtie", "necklace", "watch", "wheelchair", "walker", "cane", "crutches",
        "phone", "balloon", "scooter", "skateboard", "toy", "ribbon",
    ), ACCESSORY),
}
EN_IMPLIED: dict[str, Weights] = {"jeans": DENIM}
# Worn under a jacket or a suit's jacket: its colour adds to the outfit's instead of replacing it.
INNER_LAYERS = frozenset({"shirt", "shirts", "blouse", "blouses", "t-shirt", "tshirt", "tee", "polo",
                          "셔츠", "블라우스", "티셔츠", "티"})

KO_GARMENTS: dict[str, str] = {
    **dict.fromkeys((
        "상의", "윗옷", "재킷", "자켓", "점퍼", "잠바", "코트", "외투", "셔츠", "티셔츠", "후드티", "후드", "가디건",
        "카디건", "스웨터", "니트", "블라우스", "패딩", "조끼", "맨투맨", "트렌치", "바람막이", "야상", "블레이저",
        "티", "우비", "비옷", "플리스", "후리스", "니트티", "반팔", "긴팔", "나시",
        # compounds a stem at the word's start misses: 롱패딩 is the long puffer of every Korean winter
        "롱패딩", "숏패딩", "경량패딩", "패딩조끼", "가죽자켓", "가죽재킷", "야구점퍼", "항공점퍼", "집업", "롱코트",
        "반코트", "레인코트", "무스탕",
    ), UPPER),
    **dict.fromkeys(("하의", "바지", "청바지", "치마", "스커트", "반바지", "레깅스", "슬랙스", "면바지", "트레이닝바지",
                     "츄리닝바지", "조거팬츠", "팬츠", "칠부바지", "멜빵바지", "청치마"),
                    LOWER),
    **dict.fromkeys(("원피스", "드레스", "정장", "교복", "유니폼", "츄리닝", "트레이닝복", "옷", "복장", "차림", "잠옷",
                     "한복", "점프슈트", "체육복"), FULL),
    **dict.fromkeys((
        "가방", "백팩", "배낭", "핸드백", "숄더백", "크로스백", "토트백", "에코백", "모자", "캡", "비니", "신발",
        "운동화",
        "구두", "부츠", "샌들", "목도리", "스카프", "우산", "장갑", "머리", "머리카락", "안경", "선글라스", "마스크",
        "유모차", "자전거", "캐리어", "양말", "벨트", "헬멧",
        "장화", "슬리퍼", "하이힐", "힐", "로퍼", "크록스", "실내화", "털모자", "야구모자", "헤어밴드", "머리띠",
        "목걸이", "넥타이", "휠체어", "지팡이", "킥보드", "휴대폰", "풍선", "장난감",
    ), ACCESSORY),
}
# A Korean "티" (tee) only counts as a whole word: inside another word it is usually something else.
KO_WHOLE_WORD_ONLY = frozenset({"티", "캡", "옷", "힐", "나시"})

# ------------------------------------------------------------------------------------------- directions

EN_DIRECTIONS: dict[str, str] = {
    "north": "N", "northeast": "NE", "north-east": "NE", "east": "E", "southeast": "SE", "south-east": "SE",
    "south": "S", "southwest": "SW", "south-west": "SW", "west": "W", "northwest": "NW", "north-west": "NW",
}
EN_DIRECTION_SUFFIXES = ("bound", "ward", "wards", "erly", "ern")  # northbound, westward(s), southerly
EN_ABBREVIATIONS = {"N": "N", "NE": "NE", "E": "E", "SE": "SE", "S": "S", "SW": "SW", "W": "W", "NW": "NW"}
# "heading N": an abbreviation counts only right after one of these
EN_DIRECTION_CUES = frozenset({
    "heading", "head", "headed", "going", "walking", "walked", "moving", "moved", "towards", "toward", "to",
    "travelling", "traveling", "direction", "bound", "went", "ran", "running", "wandering",
})
EN_FROM_WORDS = frozenset({"from"})

KO_DIRECTIONS: dict[str, str] = {
    "북쪽": "N", "북향": "N", "북동쪽": "NE", "북동향": "NE", "동쪽": "E", "동향": "E", "남동쪽": "SE", "남동향": "SE",
    "남쪽": "S", "남향": "S", "남서쪽": "SW", "남서향": "SW", "서쪽": "W", "서향": "W", "북서쪽": "NW", "북서향": "NW",
}
# bare 북/남/동/서 are too ambiguous (남색 = navy, 남자 = man); they count only before 방향/쪽
KO_BARE_DIRECTIONS: dict[str, str] = {
    "북": "N", "북동": "NE", "동": "E", "남동": "SE", "남": "S", "남서": "SW", "서": "W", "북서": "NW",
}
KO_DIRECTION_NOUN = "방향"
KO_FROM_PARTICLES = ("에서", "으로부터", "로부터", "부터")

CONJUNCTIONS = frozenset({"and", "with", "or", "&", "+", "그리고", "및"})
# "red or orange jacket": either colour will do, so the two become one term (not "both must show").
ALTERNATIVES = frozenset({"or", "또는", "혹은", "아니면"})
# "no backpack", "without a hat", "not wearing a red coat": the thing named next is absent. Absence is not
# matched (a bag can be hidden or put down, and the indexer's "no bag" is weak on small people), so
# the parser drops it rather than read it as present. "not" only negates before these words or a
# colour / garment / object ("not very tall", "not sure" are not negations).
NEGATIONS = frozenset({"no", "without", "never"})
NEGATIONS_IF_FOLLOWED = frozenset({"not", "wasn't", "isn't", "didn't", "doesn't", "hasn't", "hadn't",
                                   "weren't", "aren't", "don't", "wasnt", "didnt", "doesnt"})
NEGATED_VERBS = frozenset({"wearing", "carrying", "holding", "pushing", "have", "has", "having", "had",
                           "with", "a", "an", "any", "wear", "carry", "hold"})
# Korean says it after the noun: "가방 없이", "가방은 없음".
KO_ABSENT_PREFIX = "없"
# Words that end a colour's reach: "woman in red with a black bag" - red is not the bag's colour.
SCOPE_ENDERS = frozenset({
    "with", "wearing", "carrying", "holding", "pushing", "in", "who", "that", "and/or",
    "woman", "man", "girl", "boy", "child", "kid", "person", "lady", "gentleman", "guy", "teenager",
    "teen", "student", "elderly", "old", "young", "women", "men", "people", "he", "she", "they",
    "여성", "여자", "남성", "남자", "아이", "어린이", "소녀", "소년", "학생", "할머니", "할아버지", "노인", "사람",
    "아동",
    "입은", "입고", "든", "들고", "메고", "멘", "쓴", "쓰고", "신은", "신고",
})

# ---------------------------------------------------------------- carried objects, hair, garment pattern
# Accessory nouns that name something the indexer detects (indexer.attributes.OBJECT_NAMES). A word may
# stand for several (a "bag" is whichever bag the detector saw). Colours in front of them become the
# object's colour ("black rucksack", "노란 쇼핑백").

BAGS = ("handbag", "backpack", "suitcase")
EN_OBJECTS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("backpack", "rucksack", "knapsack", "schoolbag", "daypack"), ("backpack",)),
    **dict.fromkeys(("handbag", "purse", "tote", "shopper", "satchel", "briefcase", "carrier", "clutch"),
                    ("handbag",)),
    "bag": BAGS,
    **dict.fromkeys(("suitcase", "luggage", "trolley"), ("suitcase",)),
    **dict.fromkeys(("umbrella", "brolly", "parasol"), ("umbrella",)),
    **dict.fromkeys(("bicycle", "bike", "cycle", "cyclist", "bmx"), ("bicycle",)),
    **dict.fromkeys(("pushchair", "buggy", "stroller", "pram", "perambulator"), ("pushchair",)),
    **dict.fromkeys(("dog", "puppy"), ("dog",)),
    **dict.fromkeys(("skateboard", "skateboarder"), ("skateboard",)),
}
# "shopping bag", "school bag": the word before "bag" says which bag
EN_BAG_KINDS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("shopping", "carrier", "shoulder", "plastic", "paper", "tote", "hand", "cross-body",
                     "crossbody", "messenger", "sports", "gym", "laptop"), ("handbag",)),
    **dict.fromkeys(("school", "back"), ("backpack",)),
    **dict.fromkeys(("travel", "wheeled", "rolling", "roller"), ("suitcase",)),
}
KO_OBJECTS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("배낭", "백팩", "책가방"), ("backpack",)),
    **dict.fromkeys(("핸드백", "숄더백", "크로스백", "토트백", "에코백", "쇼핑백", "손가방", "서류가방", "비닐봉지",
                     "장바구니", "봉투"), ("handbag",)),
    "가방": BAGS,
    **dict.fromkeys(("캐리어", "여행가방", "트렁크", "여행용가방"), ("suitcase",)),
    **dict.fromkeys(("우산", "양산"), ("umbrella",)),
    **dict.fromkeys(("자전거",), ("bicycle",)),
    **dict.fromkeys(("유모차",), ("pushchair",)),
    **dict.fromkeys(("강아지", "반려견", "애완견"), ("dog",)),
    **dict.fromkeys(("스케이트보드",), ("skateboard",)),
}
# Korean words that are objects only as a whole word (봉투 inside a word is an envelope of some kind)
KO_OBJECT_WHOLE_WORD_ONLY = frozenset({"봉투"})

# Hair. The indexer measures the head's colour names; search scores three hair colours a CCTV camera can
# tell apart (search.evidence.HAIR_SCORES): brown and black hair read alike at these resolutions.
BLONDE, DARK_HAIR, GREY_HAIR = "blonde", "dark", "grey"
HAIR_NOUNS_EN = frozenset({"hair", "haired"})
HAIR_NOUNS_KO = frozenset({"머리", "머리카락", "헤어"})
EN_HAIR_WORDS: dict[str, str] = {
    "blonde": BLONDE, "blond": BLONDE, "blondie": BLONDE, "platinum": BLONDE,
    "brunette": DARK_HAIR, "dark-haired": DARK_HAIR, "black-haired": DARK_HAIR, "brown-haired": DARK_HAIR,
    "grey-haired": GREY_HAIR, "gray-haired": GREY_HAIR, "white-haired": GREY_HAIR, "silver-haired": GREY_HAIR,
    "fair-haired": BLONDE, "blonde-haired": BLONDE, "blond-haired": BLONDE,
}
KO_HAIR_WORDS: dict[str, str] = {
    "금발": BLONDE, "노랑머리": BLONDE, "노란머리": BLONDE,
    "흑발": DARK_HAIR, "검은머리": DARK_HAIR, "갈색머리": DARK_HAIR,
    "백발": GREY_HAIR, "흰머리": GREY_HAIR, "은발": GREY_HAIR, "회색머리": GREY_HAIR, "반백": GREY_HAIR,
}
# A colour said of hair ("black hair", "검은 머리") -> the hair colour it means; others go to CLIP only.
HAIR_FROM_COLOUR: dict[str, str] = {
    "black": DARK_HAIR, "brown": DARK_HAIR, "yellow": BLONDE, "grey": GREY_HAIR, "white": GREY_HAIR,
}

# Garment pattern (measured on the upper body only: stripes are what the indexer can see).
STRIPED, PATTERNED = "striped", "patterned"
EN_PATTERNS: dict[str, str] = {
    **dict.fromkeys(("striped", "stripy", "stripey", "stripes", "stripe", "pinstriped", "pinstripe", "banded",
                     "hooped", "breton"), STRIPED),
    **dict.fromkeys(("patterned", "checked", "checkered", "chequered", "plaid", "tartan", "floral",
                     "flowery", "spotted", "polka-dot", "dotted", "printed", "camouflage", "camo",
                     "argyle", "houndstooth", "paisley", "leopard-print", "leopard", "polka", "multicoloured",
                     "multicolored", "multicolour", "multicolor", "tie-dye"), PATTERNED),
}
# Pattern words that are also common other words count only in front of a garment ("checked shirt", not
# "we checked"; "체크 셔츠", not "체크했다").
PATTERN_NEEDS_GARMENT = frozenset({"checked", "check", "spotted", "dotted", "printed", "banded", "hooped", "breton",
                                   "체크", "무늬", "패턴", "프린트", "카모", "polka", "leopard", "물방울", "호피"})
KO_PATTERNS: dict[str, str] = {
    **dict.fromkeys(("줄무늬", "스트라이프", "단가라", "줄무늬의"), STRIPED),
    **dict.fromkeys(("체크무늬", "체크", "격자무늬", "꽃무늬", "물방울무늬", "땡땡이", "호피무늬", "무늬", "패턴",
                     "프린트", "군복무늬", "카모", "물방울", "호피"), PATTERNED),
}
