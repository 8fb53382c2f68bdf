"""Typed commands (console, prefix commands): values in order, or by name as `name:value`."""
import pytest

import bot.commands  # noqa: F401  (registers the commands)
from bot.commands.base import REGISTRY
from bot.commands.parsing import bind_arguments, typed_words
from ml.errors import InputError


def test_values_bind_in_order():
    assert bind_arguments(REGISTRY["track"], ["2", "30", "piano"]) == [{"seed": 2, "seconds": 30, "instrument": "piano"}]


def test_name_value_words_bind_by_name_and_the_rest_fill_in_order():
    assert bind_arguments(REGISTRY["track"], ["seed:2", "tempo:90"]) == [{"seed": 2, "tempo": 90}]
    assert bind_arguments(REGISTRY["track"], ["5", "20", "instrument:organ"]) == [
        {"instrument": "organ", "seed": 5, "seconds": 20}]
    assert bind_arguments(REGISTRY["essay"], ["the future of farming", "words:300", "temperature:0.7"]) == [
        {"topic": "the future of farming", "words": 300, "temperature": 0.7}]


def test_a_named_text_value_runs_on_to_the_next_name_as_in_discord():
    assert bind_arguments(REGISTRY["essay"], "topic:the future of farming words:300".split()) == [
        {"topic": "the future of farming", "words": 300}]
    assert bind_arguments(REGISTRY["essay"], "words:300 topic: the sea".split()) == [{"words": 300, "topic": "the sea"}]


def test_a_chat_command_takes_every_word_unless_it_opens_with_an_option_name():
    assert bind_arguments(REGISTRY["friend"], "persona aside, how are you".split()) == [
        {"message": "persona aside, how are you"}]
    assert bind_arguments(REGISTRY["friend"], "persona:a pirate who loves puns".split()) == [
        {"persona": "a pirate who loves puns"}]


def test_an_unbalanced_quote_is_an_apostrophe_not_an_error():
    assert typed_words("/friend I'm tired") == ["/friend", "I'm", "tired"]
    assert typed_words('/essay "the sea" words:200') == ["/essay", "the sea", "words:200"]


def test_a_colon_in_a_value_or_an_unknown_name_stays_a_value():
    assert bind_arguments(REGISTRY["config daily-track"], ["09:00", "timezone:Europe/Paris"]) == [
        {"time": "09:00", "timezone": "Europe/Paris"}]
    assert bind_arguments(REGISTRY["config daily-track"], ["time:09:00"]) == [{"time": "09:00"}]
    assert bind_arguments(REGISTRY["essay"], ["note: rivers"]) == [{"topic": "note: rivers"}]


def test_a_named_value_of_the_wrong_kind_says_what_is_expected():
    with pytest.raises(InputError, match="<seed> must be a whole number"):
        bind_arguments(REGISTRY["track"], ["seed:two"])
