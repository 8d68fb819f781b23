"""Diffusers pipelines on weights the user supplies: instruction edits (flux2-klein, qwen-image-edit[-plus]) and
masked fills (flux2-klein-inpaint, qwen-image-edit-inpaint, flux-fill, sdxl-inpaint). The shared machinery
(checking a folder, loading, work size, seeds, progress, batching, compositing) is in `common`."""
