# SPDX-License-Identifier: GPL-2.0-only
"""Architecture back-ends (installed as orcgen.arch.*), registered under the
`orcgen.arches` entry-point group by ELF e_machine."""
