"""The one error the data loaders raise for missing, truncated or malformed files."""


class DataError(ValueError):
    """A data file is missing, cannot be downloaded, or does not hold what it should.

    The message always names the file (or folder) and says what was expected and what was found,
    so the reader can fix it by hand: put a copy at the named path, or set ``TINYSIAM_DATA``.
    """
