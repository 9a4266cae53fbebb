"""Per-IdP setup guides (pure data): where each identity provider's SCIM settings live, the exact
names of its fields, and what goes in each. The setup page (console/setup.py) fills in the
tenant's own values; ``docs/setup/*.md`` are rendered from the same data (``render_markdown``).

Field names are the IdP's own labels, as its public documentation spells them (each guide cites
its pages). A field's value is either ours (the SCIM base URL, the token, a value scimhub needs
such as ``userName``) or the IdP admin's choice; the page and the Markdown say which.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Value(StrEnum):
    BASE_URL = "base_url"  # the tenant's SCIM base URL
    TOKEN = "token"  # noqa: S105 (a kind of field: the SCIM bearer token generated on the page)
    FIXED = "fixed"  # a value scimhub needs (text given)
    CHOICE = "choice"  # the IdP admin's choice (text gives advice)


@dataclass(frozen=True, slots=True)
class Field:
    label: str  # the IdP's own name for the field
    value: Value
    text: str = ""  # FIXED: the value; CHOICE: advice; BASE_URL/TOKEN: a note

    @property
    def ours(self) -> bool:
        return self.value is not Value.CHOICE


@dataclass(frozen=True, slots=True)
class Guide:
    key: str  # URL parameter and docs/setup/<key>.md
    name: str  # as shown
    where: str  # how to reach the settings in the IdP's admin console
    fields: tuple[Field, ...]
    then: tuple[str, ...]  # what to do after filling the fields
    sources: tuple[str, ...]  # the IdP's public pages these names come from
    user_agent_note: str = ""  # what the connection check sees of this IdP


OKTA = Guide(
    key="okta",
    name="Okta",
    where=(
        "Admin Console → Applications → Applications → your app (create a SAML 2.0 or SWA app with the "
        "App Integration Wizard if you have none) → General → App Settings → Edit → Provisioning: SCIM → "
        "Save; then the Provisioning tab → Integration → Edit."
    ),
    fields=(
        Field("SCIM connector base URL", Value.BASE_URL, "Okta refuses a base URL containing '_'."),
        Field("Unique identifier field for users", Value.FIXED, "userName"),
        Field(
            "Supported provisioning actions",
            Value.CHOICE,
            "Push New Users, Push Profile Updates and Push Groups (Import New Users and Profile Updates works too).",
        ),
        Field("Authentication Mode", Value.FIXED, "HTTP Header"),
        Field("Authorization", Value.TOKEN, "Okta shows 'Bearer' before this field: paste the token alone."),
    ),
    then=(
        "Click Test Connector Configuration, then Save.",
        "Under Provisioning → To App, click Edit and enable Create Users, Update User Attributes and "
        "Deactivate Users; Save.",
        "Assign people or groups to the app (Assignments tab); push groups on the Push Groups tab.",
    ),
    sources=(
        "https://help.okta.com/oie/en-us/Content/Topics/Apps/Apps_App_Integration_Wizard_SCIM.htm",
        "https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20",
    ),
    user_agent_note="Okta sends the User-Agent 'Okta SCIM Client 1.0.0'.",
)

ENTRA = Guide(
    key="entra",
    name="Microsoft Entra ID",
    where=(
        "Microsoft Entra admin center → Enterprise applications → New application → Create your own "
        "application → 'Integrate any other application you don't find in the gallery (Non-gallery)' → "
        "Create; then the app's Provisioning page → Get started (or Connect your application)."
    ),
    fields=(
        Field("Provisioning Mode", Value.FIXED, "Automatic"),
        Field("Tenant URL", Value.BASE_URL),
        Field("Secret Token", Value.TOKEN, "Leave it empty and Entra sends its own token instead: paste ours."),
    ),
    then=(
        "Click Test Connection (Entra looks up a user that does not exist; scimhub answers with an empty "
        "list), then Save.",
        "Under Mappings, keep userName mapped to userPrincipalName (or another unique attribute).",
        "Under Users and groups, assign who to provision; set Provisioning Status to On and Save. Entra's "
        "first cycle can take up to 40 minutes; 'Provision on demand' sends one user now.",
    ),
    sources=(
        "https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups",
        "https://learn.microsoft.com/en-us/entra/identity/app-provisioning/configure-automatic-user-provisioning-portal",
    ),
)

ONELOGIN = Guide(
    key="onelogin",
    name="OneLogin",
    where=(
        "Administration → Applications → Add App → search 'SCIM Provisioner with SAML (SCIM v2 Core)' → Save; "
        "then the app's Configuration tab."
    ),
    fields=(
        Field("SCIM Base URL", Value.BASE_URL),
        Field("SCIM Bearer Token", Value.TOKEN),
        Field(
            "SCIM JSON Template",
            Value.CHOICE,
            "Keep OneLogin's default core-schema template; its userName is the scimusername parameter "
            "(Parameters tab), which must be unique.",
        ),
    ),
    then=(
        "Under API Connection, click Enable (OneLogin connects to the base URL), then Save.",
        "On the Provisioning tab, tick Enable provisioning and Save.",
        "Assign users (Users tab, or roles); group provisioning is set up on the Parameters tab (Groups).",
    ),
    sources=(
        "https://onelogin.service-now.com/kb?id=kb_article_view&sysparm_article=KB0013904",
        "https://developers.onelogin.com/scim/create-app",
    ),
)

JUMPCLOUD = Guide(
    key="jumpcloud",
    name="JumpCloud",
    where=(
        "Admin Portal → SSO Applications → your application (Add New Application → Custom Application, "
        "with 'Export users to this app (Identity Management)') → the Identity Management tab."
    ),
    fields=(
        Field("SCIM Version", Value.FIXED, "SCIM 2.0"),
        Field("Base URL", Value.BASE_URL),
        Field("Token Key", Value.TOKEN),
        Field(
            "Test User Email",
            Value.CHOICE,
            "The email of a user in your JumpCloud directory: the test creates a test user and group, "
            "then deletes them.",
        ),
    ),
    then=(
        "Click Test Connection, then Activate, then Save.",
        "On the User Groups tab, select the groups to provision (and tick 'Enable management of User Groups "
        "and Group Membership' to push groups).",
    ),
    sources=(
        "https://support.jumpcloud.com/s/article/Custom-SCIM-Identity-Management",
        "https://jumpcloud.com/support/custom-scim-identity-management",
    ),
)

PING = Guide(
    key="ping",
    name="Ping Identity",
    where=(
        "PingOne admin console → Integrations → Provisioning → + → New connection → Identity Store → "
        "SCIM Outbound → Select → name it → Next (PingFederate: the SCIM Provisioner's connector settings, "
        "where the base URL field is 'SCIM URL' and the token 'Access Token')."
    ),
    fields=(
        Field("SCIM base URL", Value.BASE_URL),
        Field("Users resource", Value.FIXED, "/Users"),
        Field("Groups resource", Value.FIXED, "/Groups"),
        Field("SCIM version", Value.FIXED, "2.0"),
        Field("Authentication method", Value.FIXED, "OAuth 2 Bearer Token"),
        Field("OAuth Access Token", Value.TOKEN),
        Field("Auth Type Header", Value.FIXED, "Bearer"),
    ),
    then=(
        "Click Test connection, then Next; keep userName as the attribute users are matched on.",
        "Finish, then enable the connection with its toggle, and add a provisioning rule for the users "
        "and groups to send.",
    ),
    sources=(
        "https://docs.pingidentity.com/r/en-us/pingone/p1_create_scim_connection",
        "https://docs.pingidentity.com/integrations/scim/setup/pf_scim_connector_scim_connector_settings_reference.html",
    ),
)

OTHER = Guide(
    key="other",
    name="Other SCIM client",
    where="Your identity provider's SCIM 2.0 (outbound provisioning) settings for this application.",
    fields=(
        Field("SCIM base URL (endpoint, tenant URL)", Value.BASE_URL, "Users are under /Users, groups under /Groups."),
        Field("Authentication", Value.FIXED, "Bearer token (HTTP header Authorization: Bearer <token>)"),
        Field("Bearer token (secret, API key)", Value.TOKEN),
        Field("Unique identifier / matching attribute", Value.FIXED, "userName"),
        Field("SCIM version", Value.FIXED, "2.0"),
    ),
    then=("Run the client's connection test, then assign the users and groups to provision.",),
    sources=("https://www.rfc-editor.org/rfc/rfc7644",),
)

GUIDES: tuple[Guide, ...] = (OKTA, ENTRA, ONELOGIN, JUMPCLOUD, PING, OTHER)
BY_KEY = {g.key: g for g in GUIDES}


def guide(key: str | None) -> Guide | None:
    return BY_KEY.get(key or "")


EXAMPLE_BASE_URL = "https://id.example.com/scim/v2"


def render_markdown(g: Guide) -> str:
    """``docs/setup/<key>.md``: the page's guide with the example base URL and no token."""
    lines = [
        f"# Connecting {g.name} to scimhub",
        "",
        "Your operator sends you a setup link (`scimhub tenant setup-link TENANT`). It opens a page with "
        "these steps and your own values filled in, a Generate token button, and a live connection check. "
        "This page is the same guide without your values: the SCIM base URL below is an example.",
        "",
        "## Where",
        "",
        g.where,
        "",
        "## Fields",
        "",
        f"Field names are {g.name}'s own. *Ours* values come from scimhub; *your choice* fields are "
        f"{g.name}'s settings, with our advice.",
        "",
        f"| Field in {g.name} | Value | Whose |",
        "|---|---|---|",
    ]
    for f in g.fields:
        lines.append(f"| {f.label} | {_markdown_value(f)} | {'ours' if f.ours else 'your choice'} |")
    lines += ["", "## Then", ""]
    lines += [f"{i}. {step}" for i, step in enumerate(g.then, 1)]
    lines += [
        "",
        "## Connection check",
        "",
        "The setup page shows *Waiting for the first request from your identity provider* until one arrives, "
        "then *Connected*, the identity provider recognised from its User-Agent, and the users and groups "
        "received. Failed requests are listed with a plain-language hint: a 404 means a wrong base URL (it "
        "must end in `/scim/v2`), a 400 or 409 an attribute mapping scimhub refused (userName must be set and "
        "unique). A request with a wrong token cannot be linked to your account, so it is not listed: if "
        f"{g.name} reports 401 Unauthorized, paste the token again or generate a new one."
        + (f" {g.user_agent_note}" if g.user_agent_note else ""),
        "",
        "## Sources",
        "",
    ]
    lines += [f"- <{url}>" for url in g.sources]
    return "\n".join(lines) + "\n"


def _markdown_value(f: Field) -> str:
    if f.value is Value.BASE_URL:
        shown = f"`{EXAMPLE_BASE_URL}` (yours is on the setup page)"
    elif f.value is Value.TOKEN:
        shown = "the token from *Generate token* (shown once)"
    elif f.value is Value.FIXED:
        shown = f"`{f.text}`"
        return shown
    else:
        return f.text
    return f"{shown}. {f.text}" if f.text else shown


def render_index() -> str:
    """``docs/setup/README.md``: one line per guide."""
    lines = [
        "# Connecting an identity provider",
        "",
        "Guides for the customer's IT admin, one per identity provider. The setup page a setup link opens "
        "(`scimhub tenant setup-link TENANT`, the console's Setup tab, or "
        "`POST /admin/v1/tenants/{tenant}/setup-links`) shows the same steps with the tenant's own values, "
        "a Generate token button and a live connection check.",
        "",
    ]
    lines += [f"- [{g.name}]({g.key}.md)" for g in GUIDES]
    return "\n".join(lines) + "\n"


def write_docs(directory: str = "docs/setup") -> list[str]:
    """Write ``docs/setup/*.md`` from the guides; the files written."""
    from pathlib import Path

    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    files = {"README.md": render_index(), **{f"{g.key}.md": render_markdown(g) for g in GUIDES}}
    for name, text in files.items():
        (target / name).write_text(text, encoding="utf-8")
    return sorted(files)
