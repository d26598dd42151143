"""Email templates: resolve (store version -> platform template, language fallback), render (in a sandbox
worker), edit (validation with a trial render, preview, platform templates, stores' versions), list.

`resolve_template` + `render_email` are the one way an email is composed; the editors' preview calls the same
`render_email`, so what the editor shows is what the recipient gets. Import from here; the modules are the
topics.
"""
from __future__ import annotations

from .editing import (  # noqa: F401
    CODE_PATTERN,
    MAX_BODY_BYTES,
    MAX_SAMPLE_CHARS,
    OverrideInput,
    PlatformTemplateInput,
    Preview,
    TemplateSource,
    check_template_source,
    create_platform_template,
    customizable_platform_template,
    parse_sample_values,
    platform_template,
    preview_template,
    restore_platform_version,
    restore_store_version,
    revert_template_override,
    sample_values_for,
    save_store_override,
    set_platform_template_active,
    store_override,
    update_platform_template,
    used_variables,
)
from .listing import (  # noqa: F401
    StoreTemplateRow,
    TemplateGroup,
    list_platform_templates,
    list_store_templates,
)
from .rendering import (  # noqa: F401
    RenderedEmail,
    RenderRefused,
    Renders,
    TemplateRenderError,
    check_plain_context,
    missing_required,
    refused_versions,
    render_email,
    render_emails,
    start_renders,
)
from .resolution import (  # noqa: F401
    FALLBACK_LANGUAGE,
    LANGUAGE_PATTERN,
    ResolvedTemplate,
    check_variable_names,
    dump_variable_list,
    language_chain,
    normalize_language,
    parse_variable_list,
    resolve_template,
)
from .versions import compare as compare_versions  # noqa: F401
from .versions import history as template_history  # noqa: F401
from .versions import version_of  # noqa: F401

