"""jenv.jcentral.protocol: request encoding, answer parsing and the token-reply rules (no sockets)."""

from __future__ import annotations

import json

import pytest

from jenv.errors import NetworkError, ServerRefusedError, UsageError
from jenv.jcentral.protocol import (ProtocolError, Reply, TokenPair, TokenRequest, encode_reply, encode_request,
                           parse_reply, parse_token_options, parse_validity, token_pair_from_reply)


@pytest.fixture(scope="module")
def token(pki):
    return pki.authority.issue_user("/C=ch/O=AliEn2/CN=Users/CN=jdoe/OU=jdoe")


def answer(exitcode="0", error="", results=None) -> str:
    return json.dumps({"metadata": {"exitcode": exitcode, "error": error, "user": "jdoe",
                                    "currentdir": "/alice/cern.ch/user/j/jdoe/"},
                       "results": results if results is not None else []})


def token_results(credential):
    return [{"tokencert": credential.cert_pem.decode(), "tokenkey": credential.key_pem().decode()}]


def test_options_start_with_nomsg_and_follow_the_official_spelling():
    assert TokenRequest().options() == ["-nomsg"]
    request = TokenRequest(username="jdoe", validity_days=3, token_type="job", jobid="42")
    assert request.options() == ["-nomsg", "-u", "jdoe", "-v", "3", "-t", "job", "-jobid", "42"]
    assert TokenRequest(token_type="host", hostname="vo.cern.ch").options() == \
        ["-nomsg", "-t", "host", "-hostname", "vo.cern.ch"]


def test_encode_request_is_one_json_object():
    assert json.loads(encode_request("token", ["-nomsg", "-v", "2"])) == \
        {"command": "token", "options": ["-nomsg", "-v", "2"]}


@pytest.mark.parametrize("request_, fix", [
    (TokenRequest(token_type="robot"), "one of user, job, jobagent, host"),
    (TokenRequest(token_type="job", jobid="42"), "-u <user> and -jobid"),
    (TokenRequest(token_type="job", username="jdoe"), "-u <user> and -jobid"),
    (TokenRequest(token_type="host"), "-hostname"),
    (TokenRequest(validity_days="3"), "whole number"),
    (TokenRequest(validity_days=True), "whole number"),
])
def test_validate_refuses_what_jcentral_would(request_, fix):
    with pytest.raises(UsageError, match=fix):
        request_.validate()


def test_validate_accepts_each_type():
    for request in (TokenRequest(), TokenRequest(validity_days=-1), TokenRequest(token_type="jobagent"),
                    TokenRequest(token_type="job", username="u", jobid="1"),
                    TokenRequest(token_type="host", hostname="a.b")):
        assert request.validate() is request


@pytest.mark.parametrize("text, days", [("7", 7), ("0", 0), ("-3", -3), (" 12 ", 12)])
def test_parse_validity(text, days):
    assert parse_validity(text) == days


@pytest.mark.parametrize("text", ["", "1.5", "seven", "1e3", "٣", pytest.param("9" * 5000, id="5000 digits"),
                                  pytest.param("-" + "9" * 5000, id="-5000 digits"), "12345678901"])
def test_parse_validity_refuses_non_integers(text):
    with pytest.raises(UsageError, match="whole number"):
        parse_validity(text)


def test_parse_token_options_round_trips_and_infers_the_type():
    request = TokenRequest(username="u", validity_days=2, token_type="job", jobid="9")
    assert parse_token_options(request.options()) == request
    assert parse_token_options(["-jobid", "9", "-u", "u"]).token_type == "job"
    assert parse_token_options(["-hostname", "a.b"]).token_type == "host"
    with pytest.raises(UsageError):
        parse_token_options(["-x"])
    with pytest.raises(UsageError):
        parse_token_options(["-v"])


def test_reply_round_trip_and_exitcode_as_string():
    reply = parse_reply(answer("0", "", [{"a": "b"}]))
    assert reply == Reply(0, "", "jdoe", "/alice/cern.ch/user/j/jdoe/", [{"a": "b"}])
    assert json.loads(encode_reply(reply))["metadata"]["exitcode"] == "0"
    assert parse_reply(encode_reply(reply)) == reply
    assert parse_reply(answer(22)).exitcode == 22  # a number is accepted too


@pytest.mark.parametrize("text", [
    "", "not json", "[]", '{"results": []}', '{"metadata": []}',
    answer("zero"), answer("0", results={"tokencert": "x"}), answer("0", results=["x"]),
    b"\xff\xfe",
])
def test_malformed_answers_are_protocol_errors(text):
    with pytest.raises(ProtocolError, match="malformed answer from JCentral") as info:
        parse_reply(text)
    assert isinstance(info.value, NetworkError)


def test_token_reply_success_keeps_the_key_text_exactly(token):
    reply = parse_reply(answer("0", "", token_results(token)))
    pair = token_pair_from_reply(reply)
    assert pair == TokenPair(token.cert_pem.decode(), token.key_pem().decode())
    assert pair.key_pem.startswith("-----BEGIN RSA PRIVATE KEY-----")


def test_notice_goes_to_the_callback_and_is_not_a_failure(token):
    notices = []
    text = "Reducing the validity from 100 to 31 as this is the max allowed value for this type of certificate"
    pair = token_pair_from_reply(parse_reply(answer("0", text, token_results(token))), notices.append)
    assert pair.cert_pem and notices == [text]


def test_refused_switch_with_a_token_attached_is_refused(token):
    """JCentral answers exitcode 1 *and* a token for the requester: it must not be used."""
    error = "Operation not permitted : Switching user jdoe to [admin] failed"
    with pytest.raises(ServerRefusedError, match=r"exitcode 1\): Operation not permitted : Switching"):
        token_pair_from_reply(parse_reply(answer("1", error, token_results(token))))


def test_error_answer_without_message_still_refuses():
    with pytest.raises(ServerRefusedError, match="no message .JCentral exit code 121"):
        token_pair_from_reply(parse_reply(answer("121")))


def test_a_server_refusal_is_one_line_naming_the_reason():
    """JAliEnCommandtoken reports a refusal of the central service as EREMOTEIO (121, alien/shell/ErrNo.java)."""
    reply = parse_reply(answer("121", "Remote I/O error : Server didn't execute your request, reason was: "
                                      "Only admin can do that"))
    with pytest.raises(ServerRefusedError) as caught:
        token_pair_from_reply(reply)
    text = str(caught.value)
    assert text.startswith("JCentral will not issue this token to the identity that asked: Only admin can do that ")
    assert "\n" not in text and "host tokens an admin" in text


def test_missing_token_fields_are_a_protocol_error(token):
    for results in ([], [{"tokencert": token.cert_pem.decode()}], [{"tokencert": "", "tokenkey": ""}]):
        with pytest.raises(ProtocolError, match="no 'tokencert' and 'tokenkey'"):
            token_pair_from_reply(parse_reply(answer("0", "", results)))
