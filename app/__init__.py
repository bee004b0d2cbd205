"""StyleGAN-V Studio desktop app (`sgv-studio`): scrub continuous time, edit motion, mix content and motion.

Data flows one way: widgets → RenderArgs → renderer (the only torch user, a worker thread) → results →
widgets. See app/main.py for the frame loop and app/widgets/__init__.py for the panel registry.
"""
