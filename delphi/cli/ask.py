"""Questions at the terminal that end cleanly when the input does.

click's prompts turn the end of the input (``delphi enter CODE < /dev/null``) and Ctrl-C alike
into "Aborted!" and exit status 1. Here the end of the input is a :class:`DelphiError` (one
line, exit status 2, saying what was left undone) and Ctrl-C stays an interruption (130).
"""

from __future__ import annotations

from delphi.errors import DelphiError


def ask(text: str, default: str = "", show_default: bool = False,
        undone: str = "nothing was saved") -> str:
    """One line typed in answer to ``text`` (``default`` for an empty line)."""
    shown = f" [{default}]" if show_default and default else ""
    try:
        answer = input(f"{text}{shown}: ")
    except EOFError:
        print()  # end the prompt's line
        raise DelphiError(f"the input ended at the question {text.strip()!r}; "
                          f"{undone}") from None
    return answer if answer else default


def confirm(text: str, undone: str = "nothing was saved") -> bool:
    """Yes or no (no by default); asks again until the answer is one of them."""
    while True:
        answer = ask(f"{text} [y/N]", undone=undone).strip().lower()
        if answer in ("", "n", "no"):
            return False
        if answer in ("y", "yes"):
            return True
        print("Please answer y or n.")
