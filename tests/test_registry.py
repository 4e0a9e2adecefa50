"""Registry: listing, lookup by name, helpful errors."""

import keras
import pytest

import keras_optim_zoo as koz
from keras_optim_zoo.registry import register


def test_list_optimizers_gives_names_and_one_line_summaries():
    listed = koz.list_optimizers()
    assert list(listed)[:7] == [
        "zoo_sgd", "zoo_rmsprop", "zoo_adagrad", "zoo_adadelta", "zoo_adam", "zoo_adamax", "zoo_nadam",
    ]
    for name, summary in listed.items():
        assert name.startswith("zoo_")
        assert summary and "\n" not in summary and summary.endswith(".")


def test_get_passes_arguments():
    optimizer = koz.get("zoo_adam", learning_rate=0.02, amsgrad=True)
    assert isinstance(optimizer, koz.ZooAdam) and optimizer.amsgrad
    assert float(optimizer.learning_rate) == pytest.approx(0.02)


@pytest.mark.parametrize(
    "name, suggestion", [("nadam", "zoo_nadam"), ("zoo_nadm", "zoo_nadam"), ("ZOO_RMSPROP", "zoo_rmsprop")]
)
def test_unknown_name_suggests_the_closest(name, suggestion):
    with pytest.raises(ValueError) as info:
        koz.get(name)
    message = str(info.value)
    assert f"Did you mean '{suggestion}'" in message and repr(name) in message


def test_unknown_name_without_close_match_lists_what_exists():
    with pytest.raises(ValueError) as info:
        koz.get("quantum_annealer")
    assert "Did you mean" not in str(info.value) and "zoo_adam" in str(info.value)


def test_builtins_still_resolve_next_to_the_zoo():
    assert type(keras.optimizers.get("adam")) is keras.optimizers.Adam
    assert type(keras.optimizers.get("zoo_adam")) is koz.ZooAdam


def test_register_rejects_bad_and_duplicate_names_and_a_summary_the_docstring_lacks():
    from keras_optim_zoo.spec import OptimizerSpec

    with pytest.raises(ValueError, match="start with 'zoo_'"):
        OptimizerSpec(name="adam", summary="Adam.", family="adam")
    with pytest.raises(ValueError, match="one sentence"):
        OptimizerSpec(name="zoo_x", summary="two\nlines.", family="adam")
    with pytest.raises(ValueError, match="sparse"):
        OptimizerSpec(name="zoo_x", summary="X.", family="adam", sparse="rows")
    spec = koz.ZooAdam.spec
    with pytest.raises(ValueError, match="already registered"):
        register(type("Other", (koz.ZooAdam,), {"spec": spec, "__doc__": spec.summary}))
    with pytest.raises(ValueError, match="docstring must start"):
        register(type("Other", (koz.ZooAdam,), {"spec": OptimizerSpec("zoo_other", "Other.", "adam"), "__doc__": "No."}))
    with pytest.raises(TypeError, match="no `spec`"):
        register(type("Other", (koz.ZooAdam,), {}))


def test_readme_table_equals_the_registry():
    """README's optimizer table is generated (``python -m keras_optim_zoo list --markdown``): it
    lists exactly the registered optimizers, in order, with their classes and summaries."""
    import os

    from keras_optim_zoo import registry

    readme = open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")).read()
    table = registry.markdown_table()
    assert table in readme, (
        "README's optimizer table differs from the registry; regenerate it with "
        "`python -m keras_optim_zoo list --markdown`."
    )
    assert table.count("\n") - 1 == len(registry.list_optimizers())


def test_a_spec_with_hyperparameters_makes_the_constructor_config_and_docstring():
    """Each hyperparameter written once (in the spec): signature and positional order, checks,
    get_config keys and the docstring's Args section all come from it."""
    import inspect

    spec = koz.ZooAdamW.spec
    names = [h.name for h in spec.hyperparameters]
    assert list(inspect.signature(koz.ZooAdamW).parameters) == ["learning_rate", *names, "kwargs"]
    optimizer = koz.ZooAdamW(0.01, 0.05, 0.8)  # positional, in the spec's order
    assert (optimizer.weight_decay, optimizer.beta_1) == (0.05, 0.8)
    assert set(koz.ZooAdamW._config_keys) == set(names) - {"weight_decay"}  # Keras stores weight_decay
    for hyperparameter in spec.hyperparameters:
        assert hyperparameter.line() in koz.ZooAdamW.__doc__
        assert optimizer.get_config()[hyperparameter.name] == getattr(optimizer, hyperparameter.name)
    with pytest.raises(ValueError, match=r"beta_2.*\[0, 1\)"):
        koz.ZooAdamW(beta_2=1.5)
    with pytest.raises(TypeError, match="__init__"):
        type("Bad", (koz.ZooAdam,), {"spec": koz.ZooAdam.spec, "__init__": lambda self: None})
