// Dear ImGui build options for digitlab (IMGUI_USER_CONFIG): every ImGui file and the app see these.
// Smaller wasm (no demo or metrics windows) and 32-bit indices for long strokes. Read next: CMakeLists.txt.
#pragma once

#define IMGUI_DISABLE_DEMO_WINDOWS
#define IMGUI_DISABLE_METRICS_WINDOW
#define IMGUI_DISABLE_OBSOLETE_FUNCTIONS
// No files: the layout is computed (no imgui.ini), fonts are built in, logs are not written.
#define IMGUI_DISABLE_FILE_FUNCTIONS
// A scribbled digit can pass 64K vertices (each stroke point is a circle); WebGL 2 and GL 3 take 32-bit indices.
#define ImDrawIdx unsigned int
