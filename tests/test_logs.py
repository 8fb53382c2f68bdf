import logging

from bot.logs import RedactSecrets, register_secret


def test_token_never_reaches_the_log(caplog):
    token = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GAbCdE.abcdefghijklmnopqrstuvwxyz012345"
    register_secret("my-very-secret-token-value")
    logger = logging.getLogger("test.redact")
    logger.addFilter(RedactSecrets())
    with caplog.at_level(logging.INFO, logger="test.redact"):
        logger.info("login with %s", token)
        logger.info("file token my-very-secret-token-value")
    assert token not in caplog.text and "my-very-secret-token-value" not in caplog.text
    assert caplog.text.count("[redacted]") == 2
