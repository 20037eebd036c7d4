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

import datetime
import json
import os
import random
import sys

import jsonschema
import openai
from pydantic import BaseModel

import sdk_checks
from schema_formats import FORMATS
from sdk_checks import check, client, expect, expect_error, model_id, native, parallel, sse_events, raw

CITY = {"type": "object", "properties": {
    "city": {"type": "string"}, "population": {"type": "integer"}, "coastal": {"type": "boolean"},
    "founded": {"type": "string", "format": "date"},
    "districts": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3},
    "climate": {"type": "string", "enum": ["oceanic", "continental", "mediterranean"]}},
    "required": ["city", "population", "coastal", "founded", "districts", "climate"], "additionalProperties": False}
FORMAT = {"type": "json_schema", "json_schema": {"name": "city", "schema": CITY, "strict": True}}
ASK = [{"role": "user", "content": "Describe Paris."}]
MAX = 160


def valid(text, schema, what):
    try:
        jsonschema.Draft202012Validator(schema, format_checker=FORMATS).validate(json.loads(text))
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
    founded: datetime.date  # "format": "date" in the schema pydantic writes


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


# ---------------------------------------------------------------- the native API

def unseen_schema(rng, depth=0):
    """A random schema within the supported subset, made here and not by the
    Swift suite's generator, from a seed that changes each run: schemas no
    test was written against. (anyOf only over alternatives that begin
    differently: the subset's rule.)"""
    defs = {}

    def leaf():
        return rng.choice([
            {"type": "string"}, {"type": "integer"}, {"type": "number"}, {"type": "boolean"}, {"type": "null"},
            {"enum": rng.sample(["north", "south", "ça va", "a\"b", 3, 4.5, True, None], rng.randint(1, 4))},
            {"const": rng.choice(["fixed", 7, False, "日本"])}, {"type": ["string", "integer"]},
            {"type": "string", "description": "an annotation"},
            {"type": "string", "format": rng.choice(["date", "time", "date-time", "uuid"])}])

    def value(depth):
        if depth >= 3 or rng.random() < 0.4:
            return leaf()
        kind = rng.random()
        if kind < 0.45:
            names = rng.sample(["id", "name", "items", "when", "ok", "x y", "ünï", "qu\"ote", "n1", "list"], rng.randint(1, 5))
            schema = {"type": "object", "properties": {n: value(depth + 1) for n in names},
                      "required": [n for n in names if rng.random() < 0.7]}
            if rng.random() < 0.8:
                schema["additionalProperties"] = False
            return schema
        if kind < 0.75:
            lo = rng.randint(0, 2)
            schema = {"type": "array", "items": value(depth + 1), "minItems": lo}
            if rng.random() < 0.6:
                schema["maxItems"] = lo + rng.randint(0, 3)
            return schema
        if kind < 0.85:
            return {"anyOf": [{"type": "object", "properties": {"v": value(depth + 1)}, "required": ["v"],
                               "additionalProperties": False},
                              rng.choice([{"type": "string"}, {"type": "integer"}, {"type": "boolean"}, {"type": "null"}])]}
        name = f"d{len(defs)}"
        defs[name] = None  # the name is taken before the definition's own references are made
        defs[name] = value(depth + 1)
        return {"$ref": f"#/$defs/{name}"}

    root = {"type": "object", "properties": {"answer": value(depth)}, "required": ["answer"],
            "additionalProperties": False} if rng.random() < 0.3 else value(depth)
    if defs:
        root = {"$defs": defs, "anyOf": [root]} if "$ref" in root else dict(root, **{"$defs": defs})
    return root


@check
def structured_native_unseen():
    """POST /v1/generate with `json_schema`: 24 schemas drawn from a fresh
    seed (printed; KVSERVE_TEST_SCHEMA_SEED repeats a run), each greedy and at
    temperature 1 with two seeds, 8 requests at a time. Every reply must end
    (finish_reason stop) and validate."""
    seed = int(os.environ.get("KVSERVE_TEST_SCHEMA_SEED") or random.SystemRandom().randrange(1 << 32))
    print(json.dumps({"schema_seed": seed}), flush=True)
    rng = random.Random(seed)
    schemas = [unseen_schema(rng) for _ in range(24)]
    jobs = [(i, schema, options) for i, schema in enumerate(schemas)
            for options in [{"temperature": 0}, {"temperature": 1.0, "seed": 1}, {"temperature": 1.0, "seed": 2}]]

    def run(job):
        i, schema, options = job
        reply = raw("POST", "/v1/generate", dict(prompt="Write a JSON value.\n", json_schema=schema, max_tokens=400,
                                                 stream=False, **options))
        return i, schema, options, reply

    for start in range(0, len(jobs), 8):
        for i, schema, options, reply in parallel([lambda job=job: run(job) for job in jobs[start:start + 8]]):
            what = f"seed {seed} schema {i} {json.dumps(schema)} {options}"
            expect(reply.status == 200, f"{what}: {reply}")
            expect(reply.body["finish_reason"] == "stop", f"{what}: finish_reason {reply.body['finish_reason']}")
            valid(reply.body["text"], schema, what)


@check
def structured_native():
    """The native field with a session, stop strings and refusals."""
    session = "structured-native"
    raw("DELETE", f"/v1/sessions/{session}")
    first = native({"prompt": "Describe Paris as JSON.\n", "session_id": session, "json_schema": CITY,
                    "max_tokens": MAX, "temperature": 0})
    valid(first["text"], CITY, "a constrained first turn")
    # Streamed equals not, token by token.
    streamed = raw("POST", "/v1/generate", {"prompt": "Describe Paris as JSON.\n", "json_schema": CITY,
                                            "max_tokens": MAX, "temperature": 0})
    events = sse_events(streamed.text)
    tokens = "".join(json.loads(d)["text"] for e, d in events if e == "token")
    expect(tokens == first["text"], f"streamed {tokens!r} vs {first['text']!r}")
    # The session goes on unconstrained, from the cache: only the new prompt is prefilled.
    second = native({"prompt": "\nNow one sentence about its river.\n", "session_id": session, "max_tokens": 24,
                     "temperature": 0})
    expect(second["usage"]["prompt_tokens"] < 20, f"the follow-up prefilled {second['usage']}")
    # A stop string that the JSON contains does not cut it.
    stopped = native({"prompt": "Describe Paris as JSON.\n", "json_schema": CITY, "max_tokens": MAX,
                      "temperature": 0, "stop": ['"', ","]})
    expect(stopped["text"] == first["text"], f"with stop strings: {stopped['text']!r}")
    for body, words, status in [
            ({"json_schema": {"type": "string", "pattern": "a+"}}, ["pattern"], 400),
            ({"json_schema": [1]}, ["json_schema", "object"], 400),
            ({"json_schema": CITY, "ignore_eos": True}, ["ignore_eos"], 400),
            ({"json_schema": CITY, "max_tokens": 5}, ["max_tokens (5)", "tokens"], 400)]:
        reply = raw("POST", "/v1/generate", dict({"prompt": "x", "stream": False}, **body))
        expect(reply.status == status and all(w in reply.text for w in words), f"{body}: {reply}")
    raw("DELETE", f"/v1/sessions/{session}")


if __name__ == "__main__":
    sys.exit(sdk_checks.main())
