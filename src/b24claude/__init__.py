"""b24claude: Anthropic's Claude inside a Bitrix24 portal."""

__version__ = "0.1.0"
