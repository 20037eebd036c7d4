#!/usr/bin/env python3
"""Structured output through kvserve's OpenAI API, as the official `openai`
SDK asks for it: the checks of sdk_checks.py (same usage, same output) plus
these. The truth is Python's `jsonschema` (and pydantic, for the SDK's
`parse`): every reply must validate, greedy and sampled with several seeds;
a schema outside the supported subset, or a budget too small for any valid
output, is a 400 naming why. Tool calls forced by `tool_choice` are held to
the tool's parameters the same way, on a plain question (no example call in
the prompt, unlike tool_checks.py's round trips).
"""

import json
import sys

import jsonschema
import openai
from pydantic import BaseModel

import sdk_checks
from sdk_checks import check, client, expect, expect_error, model_id, sse_events, raw

CITY = {"type": "object", "properties": {
    "city": {"type": "string"}, "population": {"type": "integer"}, "coastal": {"type": "boolean"},
    "districts": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3},
    "climate": {"type": "string", "enum": ["oceanic", "continental", "mediterranean"]}},
    "required": ["city", "population", "coastal", "districts", "climate"], "additionalProperties": False}
FORMAT = {"type": "json_schema", "json_schema": {"name": "city", "schema": CITY, "strict": True}}
ASK = [{"role": "user", "content": "Describe Paris."}]
MAX = 160


def valid(text, schema, what):
    try:
        jsonschema.validate(json.loads(text), schema)
    except (ValueError, jsonschema.ValidationError) as e:
        expect(False, f"{what}: {text!r} does not validate: {e}")


@check
def structured_chat():
    sdk = client()
    for temperature, seed in [(0, None), (1.0, 1), (1.0, 2), (1.0, 3)]:
        r = sdk.chat.completions.create(model=model_id(), messages=ASK, response_format=FORMAT, max_tokens=MAX,
                                        temperature=temperature, seed=seed)
        expect(r.choices[0].finish_reason == "stop", f"finish_reason {r.choices[0].finish_reason}")
        valid(r.choices[0].message.content, CITY, f"temperature {temperature} seed {seed}")
    pieces = sdk.chat.completions.create(model=model_id(), messages=ASK, response_format=FORMAT, max_tokens=MAX,
                                         temperature=0, stream=True)
    streamed = "".join(c.choices[0].delta.content or "" for c in pieces if c.choices)
    greedy = sdk.chat.completions.create(model=model_id(), messages=ASK, response_format=FORMAT, max_tokens=MAX, temperature=0)
    expect(streamed == greedy.choices[0].message.content, f"streamed {streamed!r} vs {greedy.choices[0].message.content!r}")


class City(BaseModel):
    city: str
    population: int
    coastal: bool


@check
def structured_parse():
    r = client().chat.completions.parse(model=model_id(), messages=[{"role": "user", "content": "Describe Rome."}],
                                        response_format=City, max_tokens=MAX, temperature=0)
    parsed = r.choices[0].message.parsed
    expect(isinstance(parsed, City), f"parsed {parsed!r}")


@check
def structured_json_object():
    r = client().chat.completions.create(model=model_id(), max_tokens=MAX, temperature=0,
                                         messages=[{"role": "user", "content": "Tell me about cats in JSON."}],
                                         response_format={"type": "json_object"})
    expect(isinstance(json.loads(r.choices[0].message.content), dict), f"{r.choices[0].message.content!r}")


@check
def structured_responses():
    r = client().responses.create(model=model_id(), input="Describe Oslo.", max_output_tokens=MAX, temperature=0,
                                  text={"format": {"type": "json_schema", "name": "city", "schema": CITY, "strict": True}})
    valid(r.output_text, CITY, "responses")


@check
def structured_errors():
    sdk = client()
    for schema, keyword in [({"type": "string", "pattern": "a+"}, "pattern"),
                            ({"oneOf": [{"type": "string"}, {"type": "integer"}]}, "oneOf"),
                            ({"$defs": {"n": {"type": "array", "items": {"$ref": "#/$defs/n"}}}, "$ref": "#/$defs/n"}, "$ref")]:
        error = expect_error(openai.BadRequestError, lambda: sdk.chat.completions.create(
            model=model_id(), messages=ASK, max_tokens=MAX,
            response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}), keyword)
        expect(keyword in str(error.body), f"{keyword}: {error.body}")
        expect(error.param == "response_format.json_schema.schema", f"{keyword}: param {error.param}")
    error = expect_error(openai.BadRequestError, lambda: sdk.chat.completions.create(
        model=model_id(), messages=ASK, max_tokens=5, response_format=FORMAT), "budget")
    expect("tokens" in str(error.body) and "max_tokens (5)" in str(error.body), f"budget: {error.body}")


TOOL = {"type": "function", "function": {"name": "book_table", "description": "Book a restaurant table.",
        "parameters": {"type": "object", "properties": {
            "restaurant": {"type": "string"}, "guests": {"type": "integer"},
            "time": {"type": "string", "enum": ["18:00", "19:00", "20:00"]}},
            "required": ["restaurant", "guests", "time"], "additionalProperties": False}}}


@check
def structured_tool_arguments():
    sdk = client()
    ask = [{"role": "user", "content": "Book a table for four at Chez Marie tonight."}]
    for choice in [{"type": "function", "function": {"name": "book_table"}}, "required"]:
        for temperature, seed in [(0, None), (1.0, 7)]:
            r = sdk.chat.completions.create(model=model_id(), messages=ask, tools=[TOOL], tool_choice=choice,
                                            max_tokens=MAX, temperature=temperature, seed=seed)
            expect(r.choices[0].finish_reason == "tool_calls", f"{choice}: finish_reason {r.choices[0].finish_reason}")
            call = r.choices[0].message.tool_calls[0]
            expect(call.function.name == "book_table", f"{choice}: name {call.function.name}")
            valid(call.function.arguments, TOOL["function"]["parameters"], f"{choice} temperature {temperature}")


if __name__ == "__main__":
    sys.exit(sdk_checks.main())
