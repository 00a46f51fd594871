def axes_username(request, credentials):
    """The username django-axes locks on: the e-mail, as the login matches it."""
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    return username.strip().lower()
