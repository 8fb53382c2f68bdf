"""Answers found inside what the user said in passing, and how the friend says them back."""
from __future__ import annotations

import pytest

from ml.friend.answers import answer_kind, find_answer, question_parts, told_back
from ml.friend.conversation import DEFAULT_PERSONA, Friend, Memory
from ml.friend.recall import FactFinder, asks_about_self
from tests.test_friend_checks import ScriptedEngine, exact


def _overlap(texts, to):
    """A stand-in for MiniLM: the share of the question's words a sentence has."""
    asked = set(to.lower().replace("?", "").split())
    return [len(asked & set(t.lower().split())) / max(1, len(asked)) for t in texts]


@pytest.mark.parametrize("question, said, expected", [
    ("who dragged me round the park?", ["my corgi pancake dragged me round the park for an hour"], "Pancake"),
    ("who did I go to Lima with?", ["back from Lima with Sofía, my wife, we ate ceviche daily"], "Sofía"),
    ("who did I go with?", ["me and Tariq (my partner) rented a houseboat for a week"], "Tariq"),
    ("what's my gecko called?", ["my leopard gecko Sir Toast shed his skin and ate it"], "Sir Toast"),
    ("where am I based?", ["I coach netball here in dunedin and it rained all session"], "dunedin"),
    ("which city did I move to?", ["Sorry if this is random, I moved to Tromsø last month for work"], "Tromsø"),
    ("how old am I turning?", ["turning 41 on friday and nobody is allowed to mention it"], "41"),
    ("what do I play?", ["band practice ran late, I play bassoon in a wind band"], "bassoon"),
    ("what do I do for work?", ["long night shift, being a paramedic in Cork is no joke"], "paramedic"),
    ("what's my job again?", ["I'm a crane operator at the docks and the wind was wild"], "crane operator"),
    ("do you remember where I work?", ["nine years at the planetarium now and the dome still gets me"], "planetarium"),
    ("what am I studying?", ["first year of veterinary science and I already smell of cows"], "veterinary science"),
    ("what kind of dog do I have?", ["my beagle has claimed the armchair for good"], "beagle"),
    ("how many kids do I have?", ["all three of mine plus my sister's two, so 5 kids in the garden"], "three"),
])
def test_the_answer_is_found_inside_a_sentence_told_in_passing(question, said, expected):
    answer = find_answer(question, said, [0.3] * len(said))
    assert answer is not None and answer.value == expected and answer.sentence == said[0]


def test_kinds_and_parts_of_a_question():
    assert answer_kind("how old am I?") == "number"
    assert answer_kind("where do I live now?") == "place"
    assert answer_kind("who's my sister?") == "name"
    assert answer_kind("what do I play?") == "thing"
    assert question_parts("what do I play, and who's the sister who fell asleep?") == \
        ["what do I play", "who's the sister who fell asleep?"]
    assert question_parts("what's my dog called?") == ["what's my dog called?"]


def test_no_answer_is_made_up_from_a_sentence_without_one():
    assert find_answer("who did I go with?", ["the weather was awful all week"], [0.3]) is None
    assert find_answer("how old am I?", ["I love long walks"], [0.3]) is None
    # The question's own words are not its answer, nor is the user's own name when they ask about someone else.
    assert find_answer("who is Sam's sister?", ["Sam says hi"], [0.3]) is None
    assert find_answer("who did I go with?", ["me and Ines went"], [0.3], excluded=["Ines"]) is None


def test_what_was_said_in_passing_is_asked_about_and_matched():
    assert asks_about_self("bet you've already forgotten what I play")
    assert asks_about_self("ok what are you gonna call me from now on?")
    assert asks_about_self("if a stranger asked you what my hobby is, what would you tell them?")
    assert not asks_about_self("what do you think of jazz?")
    recall = FactFinder(_overlap).find("what do I play, and who came to watch?", [],
                                       ["I play oboe in a community orchestra", "my sister Claire came to watch"])
    assert [a.value for a in recall.answers] == ["oboe", "Claire"] and recall.values == ["oboe", "Claire"]


def test_an_answer_from_the_users_words_must_be_said_and_the_fallback_does_not_echo_them():
    said = ["mango has knocked my tea off the table again, my cat mango is a menace"]
    engine = ScriptedEngine(["Cats are funny.", "They sure are.", "Tea is nice."])
    friend = Friend(engine, sampling=exact(), finder=FactFinder(_overlap))
    reply = friend.reply(DEFAULT_PERSONA, "Bo", Memory(said=said), "what's my cat called?", seed=0)
    assert "(the answer: Mango)" in engine.prompts[0]
    assert reply.rejected[0] == "does not say Mango" and reply.recalled == ["Mango"]
    assert "Mango" in reply.text and "knocked my tea" not in reply.text and "You told me" not in reply.text


def test_a_told_back_fallback_the_judge_reads_as_unkind_is_not_sent():
    # A quote is told back only when no answer is found inside it; a judge that reads it as
    # hostile sends it to the gentle reply instead.
    said = ["my cats are a criminal duo honestly"]
    judge = lambda text: "hostile 0.95" if "criminal" in text else None  # noqa: E731
    friend = Friend(ScriptedEngine(["Hm."] * 3), judge=judge, sampling=exact(), finder=FactFinder(_overlap))
    plan = friend.plan("what did I say about my cats?", Memory(said=said), DEFAULT_PERSONA)
    assert plan.recall.quotes == said and not plan.recall.answers
    assert "criminal" not in friend._fallback(plan, 0)


def test_told_back_names_every_answer():
    from ml.friend.answers import Answer

    text = told_back([Answer("oboe", "s", "thing"), Answer("Claire", "t", "name")])
    assert text == "Oboe and Claire! I remember you telling me."


def test_the_users_own_name_is_told_apart_from_the_names_of_people_they_mention():
    said = ["hi! it's Ines here.", "my friend Leah said you're good to chat to"]
    assert find_answer("do you know my name?", said, [0.2, 0.3]).value == "Ines"
    assert find_answer("who told me about you?", said, [0.1, 0.3]).value == "Leah"


def test_a_memory_question_in_other_words_is_still_one():
    for question in ("which city are we in now?", "what's the name of the goat?", "whose bike keeps bruising me?"):
        assert asks_about_self(question), question
    for question in ("what are we doing tonight?", "which one do you like?", "how are you?"):
        assert not asks_about_self(question), question


def test_say_my_name_picks_the_users_name_over_a_person_they_mentioned():
    from ml.friend.facts import extract_facts

    facts = extract_facts("Sigrid here 👋 my brother Anders borrowed my headphones")
    recall = FactFinder(_overlap).find("ok say my name so you don't mix me up with my brother", facts)
    assert recall.facts and recall.facts[0].value == "Sigrid"


def test_a_question_naming_the_facts_kind_finds_it():
    from ml.friend.facts import extract_facts

    facts = extract_facts("i've kept bees for about four years now") + extract_facts("I live in Ghent")
    recall = FactFinder(_overlap).find("if a stranger asked what my hobby is, what would you say?", facts)
    assert [f.value for f in recall.facts] == ["bees"]
    told = extract_facts("ok so i'm seriously allergic to shellfish")
    assert asks_about_self("given what i told you, should i be worried?")
    assert FactFinder(_overlap).find("given what i told you, is the prawn platter a worry? i'm allergic",
                                     told).facts == told


def test_counting_questions_and_unmarked_questions():
    from ml.friend.recall import first_person_sentences

    assert asks_about_self("how many kids do I have?")
    assert asks_about_self("how long have me and my husband been together?")
    assert asks_about_self("whats my dietary thing again")
    assert not asks_about_self("how many hours should a baby sleep?")
    # A question typed without "?" tells nothing about the user, so it is never quoted back as if it did.
    assert first_person_sentences(["how do parents of sporty kids survive", "how I met my wife is a long story",
                                   "do you think its rude to ask"]) == ["how I met my wife is a long story"]
