"""Diffusers pipelines on weights the user supplies: instruction edits (flux2-klein, qwen-image-edit[-plus]),
masked fills (flux2-klein-inpaint, qwen-image-edit-inpaint, flux-fill, sdxl-inpaint), line-map guidance
(sdxl-controlnet, qwen-image-controlnet), references (sdxl-ip-adapter, qwen-image-edit-plus) and relighting
(ic-light). The shared machinery (checking a folder, loading, work size, seeds, progress, batching,
compositing) is in `common`; ControlNet loading in `controlnet`, reference inputs in `references`."""
