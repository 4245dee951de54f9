# SPDX-License-Identifier: GPL-2.0-only
"""The one exception type that means "this input cannot be analysed".

Everything a user can feed orcgen that is not a readable object of a supported
architecture ends in an InputError; the command line turns it into a one-line
`orcgen: error: FILE: reason` and exit status 2, never a traceback.
"""


class InputError(Exception):
    """The input file is not something orcgen can analyse; the message says why."""
