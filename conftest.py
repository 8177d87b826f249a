"""Root conftest: what the project's own tests share with every test folder."""

pytest_plugins = ("pytester",)
