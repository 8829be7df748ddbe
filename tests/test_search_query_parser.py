"""The query parser: garments decide upper/lower, synonyms map to basic colours, Korean = English."""

from __future__ import annotations

import pytest

from core.vision.colours import COLOUR_NAMES
from search import vocabulary as V
from search.errors import SearchInputError
from search.query_parser import MAX_QUERY_CHARS, parse_query


def names(terms) -> list[str]:
    return [t.name for t in terms]


def test_the_issue_example():
    p = parse_query("elderly woman, purple coat, dark handbag, walking north")
    assert names(p.upper) == ["purple"] and not p.lower and not p.either
    assert p.direction == "N"
    assert p.ignored == ("dark handbag",)
    assert "north" not in p.clip_text and "purple coat" in p.clip_text
    assert p.caption == f"a photo of a person: {p.clip_text}"
    assert p.summary().startswith("understood: upper=purple, direction=N")


@pytest.mark.parametrize("korean, english", [
    ("빨간 재킷, 검은 바지, 북쪽으로", "red jacket, black trousers, heading north"),
    ("빨강 상의에 검정 바지 북쪽으로 걸어감", "red top with black pants walking north"),
    ("보라색 코트, 청바지", "purple coat, blue jeans"),
    ("남색 점퍼, 회색 치마, 남동쪽으로", "navy jacket, grey skirt, towards the south-east"),
    ("흰 티셔츠, 베이지 반바지, 서쪽 방향", "white t-shirt, beige shorts, heading west"),
    ("노란 후드티, 초록색 레깅스, 북서쪽으로", "yellow hoodie, green leggings, northwest"),
    ("분홍 블라우스와 갈색 치마", "pink blouse and brown skirt"),
    ("주황색 패딩, 하늘색 바지", "orange puffer, light blue trousers"),
    ("카키 재킷, 검은색 바지, 동쪽으로", "khaki jacket, black trousers, eastbound"),
    ("붉은 코트 남쪽으로", "red coat heading south"),
    ("하얀 원피스", "white dress"),
    ("검은색재킷에 청바지", "black jacket and jeans"),
    ("검은색 롱패딩, 청바지", "black puffer, jeans"),
    ("갈색 가죽자켓에 회색 팬츠", "brown leather jacket, grey trousers"),
    ("네이비 집업, 파란 체육복 바지", "navy jacket, blue tracksuit bottoms"),
    ("키 약 165cm의 긴 검은 머리 여성, 보라색 코트, 청바지, 어두운 신발, 검은색 숄더백",
     "Woman, about 165 cm, long black hair, purple coat to mid-thigh, blue jeans, dark shoes, black shoulder bag"),
])
def test_korean_parses_to_the_same_structured_terms_as_english(korean, english):
    ko, en = parse_query(korean), parse_query(english)
    assert ko.structured() == en.structured(), (ko.summary(), en.summary())
    assert ko.has_structure


@pytest.mark.parametrize("text, upper, lower", [
    ("red jacket", ["red"], []),
    ("black trousers", [], ["black"]),
    ("grey hoodie and blue jeans", ["grey"], ["blue"]),
    ("jacket: red, trousers: black", ["red"], ["black"]),
    ("the top was green", ["green"], []),
    ("red and navy puffer jacket", ["red", "blue"], []),
    ("dark blue coat", ["blue"], []),
    ("white dress", ["white"], ["white"]),
    ("beige raincoat, maroon skirt", ["white"], ["red"]),
    ("cream cardigan over khaki shorts", ["white"], ["brown"]),
    ("Red Jacket", ["red"], []),
    ("reddish sweaters", ["red"], []),
    ("jeans", [], ["blue"]),  # jeans without a colour are blue
    ("black jeans", [], ["black"]),
])
def test_garments_decide_upper_and_lower(text, upper, lower):
    p = parse_query(text)
    assert names(p.upper) == upper and names(p.lower) == lower, p.summary()


@pytest.mark.parametrize("word, colour", [
    ("mustard", "yellow"), ("coral", "pink"), ("peach", "orange"), ("rust", "orange"), ("plum", "purple"),
    ("indigo", "blue"), ("mint", "green"), ("lime", "green"), ("taupe", "brown"), ("oatmeal", "white"),
    ("neon yellow", "yellow"), ("겨자색", "yellow"), ("민트색", "green"), ("청록색", "blue"), ("은색", "grey"),
    ("고동색", "brown"), ("형광 노란", "yellow"),
])
def test_fashion_colour_names_are_colours(word, colour):
    # A witness's "mustard jacket" once said no colour at all, and the search matched on nothing.
    assert names(parse_query(f"{word} jacket").upper) == [colour]


@pytest.mark.parametrize("text, upper, lower", [
    ("white shirt, black tie, dark grey suit trousers", ["white"], ["grey"]),  # suit trousers are trousers
    ("grey tracksuit bottoms", [], ["grey"]),
    ("black jacket jeans", ["black"], ["blue"]),  # terse notes: two garments, not a compound
    ("person wearing all black", ["black"], ["black"]),
    ("dressed in white from head to toe", ["white"], ["white"]),
    ("a man in red", [], []),  # no garment, not "all": either half
    ("walking all the way north in red", [], []),
    ("navy school uniform, grey trousers", ["blue"], ["grey"]),  # the trousers named say what the legs wear
    ("white dress, black leggings", ["white"], ["black"]),
    ("black suit, white shirt", ["black", "white"], ["black"]),  # a shirt under the jacket hides no suit
    ("남색 교복, 회색 바지", ["blue"], ["grey"]),
])
def test_outfits_compounds_and_all_over(text, upper, lower):
    p = parse_query(text)
    assert names(p.upper) == upper and names(p.lower) == lower, p.summary()


@pytest.mark.parametrize("hyphenated, spaced", [
    ("light-blue coat", "light blue coat"), ("dark-green jacket", "dark green jacket"),
    ("pale-pink top", "pale pink top"), ("dark-grey trousers", "dark grey trousers"),
    ("woman with dark-blonde hair", "woman with dark blonde hair"),
])
def test_a_hyphenated_shade_reads_as_the_spaced_one(hyphenated, spaced):
    # "light-blue coat" once said no colour at all, and "dark-green" read as black.
    assert parse_query(hyphenated).structured() == parse_query(spaced).structured()
    assert parse_query(hyphenated).has_structure


def test_a_shade_of_hair_is_that_hair_not_a_colour_of_its_own():
    p = parse_query("dark blonde hair, red coat")
    assert [h.hair for h in p.hair] == ["blonde"] and names(p.upper) == ["red"] and not p.either


@pytest.mark.parametrize("text, upper, lower", [
    ("light-coloured top, dark trousers", ["white"], ["black"]),
    ("pale jacket", ["white"], []),
    ("밝은 색 상의, 어두운 바지", ["white"], ["black"]),
    ("a light jacket", [], []),  # as often a thin one as a pale one
    ("pale blue shirt", ["blue"], []),
])
def test_a_light_shade_is_a_colour_when_said_of_one(text, upper, lower):
    p = parse_query(text)
    assert names(p.upper) == upper and names(p.lower) == lower and not p.either, p.summary()
    if upper == ["white"]:
        assert p.upper[0].weight_map() == V.LIGHT  # any light cloth, not only white
    assert not parse_query("light coloured hair").hair  # blonde as often as grey: no hair term


@pytest.mark.parametrize("text, said", [
    ("red jacket, last seen around 3pm", "3pm"), ("red jacket at 14:30", "14:30"),
    ("빨간 재킷, 오후 3시쯤", "오후 3시"), ("seen at 3:15 p.m., heading north", "3:15 p.m."),
])
def test_a_time_in_the_description_is_pointed_to_the_time_range(text, said):
    p = parse_query(text)
    assert any(n.startswith(f"'{said}': times in a description are not used") for n in p.notes), p.notes


@pytest.mark.parametrize("text", ["about 165cm, red jacket", "a 10 year old boy", "3시 방향으로 걸어감", "red jacket"])
def test_heights_ages_and_clock_bearings_are_no_times(text):
    assert not any("times in a description" in n for n in parse_query(text).notes)


def test_synonym_weights():
    navy = parse_query("navy coat").upper[0].weight_map()
    assert navy["blue"] == 1.0 and 0 < navy["black"] < 1
    cream = parse_query("cream coat").upper[0].weight_map()
    assert cream["white"] == 1.0 and cream["brown"] > 0
    dark_blue = parse_query("dark blue coat").upper[0].weight_map()
    assert dark_blue["blue"] == 1.0 and dark_blue["black"] > 0
    dark = parse_query("dark coat").upper[0].weight_map()
    assert dark["black"] == 1.0


def test_colour_without_garment_is_either_half_and_accessories_absorb_colours():
    p = parse_query("a man in red with a black backpack and white shoes")
    assert names(p.either) == ["red"] and not p.upper and not p.lower
    assert set(p.ignored) == {"black backpack", "white shoes"}
    p = parse_query("긴 검은 머리, 빨간 가방")
    assert not p.has_colours and set(p.ignored) == {"검은 머리", "빨간 가방"}


@pytest.mark.parametrize("text, upper, lower, ignored", [
    ("man in a green jacket and red wellies", ["green"], [], "red wellies"),
    ("woman in a blue coat and black heels", ["blue"], [], "black heels"),
    ("man in brown loafers and a grey coat", ["grey"], [], "brown loafers"),
    ("navy blazer with a red tie, beige chinos", ["blue"], ["white"], "red tie"),
    ("빨간 장화를 신은 아이, 노란 우비", ["yellow"], [], "빨간 장화"),
    ("검은 하이힐, 회색 코트", ["grey"], [], "검은 하이힐"),
])
def test_footwear_and_small_things_keep_their_colour_off_the_clothes(text, upper, lower, ignored):
    # A witness's shoes or tie are not the coat: their colour sent to the torso demands it there too.
    p = parse_query(text)
    assert names(p.upper) == upper and names(p.lower) == lower and not p.either, p.summary()
    assert ignored in p.ignored


@pytest.mark.parametrize("text, upper, lower, absent", [
    ("man in a red jacket, no backpack", ["red"], [], "no backpack"),
    ("woman without a bag in a blue coat", ["blue"], [], "without a bag"),
    ("not wearing a red coat, grey trousers", [], ["grey"], "not wearing a red coat"),
    ("man in red with no bag", [], [], "no bag"),
    ("가방 없이 빨간 재킷", ["red"], [], "가방 없이"),
])
def test_a_negated_thing_is_not_read_as_present(text, upper, lower, absent):
    p = parse_query(text)
    assert names(p.upper) == upper and names(p.lower) == lower and not p.objects, p.summary()
    assert any(note.startswith(f"'{absent}' is not matched") for note in p.notes), p.notes


@pytest.mark.parametrize("text", ["not very tall, red jacket", "not sure, red jacket", "red jacket, not old"])
def test_not_without_a_thing_after_it_negates_nothing(text):
    p = parse_query(text)
    assert names(p.upper) == ["red"] and not p.notes


@pytest.mark.parametrize("text", ["red or orange jacket", "the jacket was red or orange", "red jacket or orange jacket",
                                  "빨간색 또는 주황색 재킷"])
def test_alternatives_are_one_term_either_colour_will_do(text):
    p = parse_query(text)
    assert len(p.upper) == 1 and not p.lower and not p.either, p.summary()
    weights = p.upper[0].weight_map()
    assert weights["red"] == 1.0 and weights["orange"] == 1.0


def test_and_still_asks_for_both():
    assert names(parse_query("red and navy jacket").upper) == ["red", "blue"]


@pytest.mark.parametrize("text, direction", [
    ("heading north", "N"), ("walking towards the north-east", "NE"), ("north east", "NE"),
    ("going SE", "SE"), ("southbound", "S"), ("westward", "W"), ("towards the south west", "SW"),
    ("coming from the north", "S"), ("from the east heading west", "W"),
    ("북쪽으로", "N"), ("북동쪽", "NE"), ("동쪽으로 걸어감", "E"), ("남서 방향으로", "SW"), ("북쪽에서 걸어옴", "S"),
    ("서쪽으로", "W"), ("남쪽", "S"), ("남동쪽으로", "SE"), ("북서쪽", "NW"),
])
def test_directions(text, direction):
    assert parse_query(text).direction == direction


@pytest.mark.parametrize("text", ["navy coat", "남색 코트", "a man", "남자", "se habla", "동네 아이", "서울역"])
def test_no_false_directions(text):
    assert parse_query(text).direction is None


def test_empty_and_whitespace_and_control_characters():
    for text in ("", "   ", "\n\t", "\x00\x01"):
        p = parse_query(text)
        assert not p.has_structure and p.clip_text == "" and p.caption == ""
    p = parse_query("red\x00 jacket\u200b")
    assert names(p.upper) == ["red"]


def test_too_long_is_an_input_error():
    with pytest.raises(SearchInputError, match="too long"):
        parse_query("red jacket " * (MAX_QUERY_CHARS // 5))


def test_vocabulary_names_only_basic_colours():
    basic = set(COLOUR_NAMES)
    for table in (V.EN_COLOURS, V.EN_MODIFIERS, V.KO_COLOURS, V.KO_MODIFIERS, V.KO_IMPLIED, V.EN_IMPLIED):
        for word, weights in table.items():
            assert set(weights) <= basic, word
    for word, kind in {**V.EN_GARMENTS, **V.KO_GARMENTS}.items():
        assert kind in (V.UPPER, V.LOWER, V.FULL, V.ACCESSORY), word


def test_to_dict_is_json_ready():
    import json

    d = parse_query("빨간 재킷, 북쪽으로").to_dict()
    assert json.loads(json.dumps(d, ensure_ascii=False))["direction"] == "N"
    assert d["upper"][0]["colour"] == "red"
