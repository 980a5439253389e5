"""``python -m zen_lead`` is the ``zen-lead`` command."""

from zen_lead.cli import main

main()
