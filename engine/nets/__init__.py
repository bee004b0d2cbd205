"""Networks: primitives → mapping → motion → synthesis → generator → discriminator."""

from engine.nets.discriminator import Discriminator
from engine.nets.generator import Generator, build_generator

__all__ = ["Discriminator", "Generator", "build_generator"]
